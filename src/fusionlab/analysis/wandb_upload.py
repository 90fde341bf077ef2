"""``python -m fusionlab.report runs=<dir> wandb=<project>``: the report's figures (every PNG it wrote) as
images and its CSV tables as tables, in one W&B run of ``project`` (job type ``report``). Offline unless
``WANDB_MODE=online`` (and logged in): sync it later with ``wandb sync <out>/wandb/offline-run-*``."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)


def upload_report(out: Path, project: str, name: str) -> Path:
    """Log the report written in ``out`` as the W&B run ``name``; returns the run's folder."""
    import wandb  # here: a report without W&B does not pay for importing it

    with wandb.init(project=project, name=name, job_type="report", dir=out,
                    mode=os.environ.get("WANDB_MODE", "offline")) as run:
        run.log({**{f"figures/{png.stem}": wandb.Image(str(png)) for png in sorted(out.glob("*.png"))},
                 **{f"tables/{table.stem}": wandb.Table(dataframe=pd.read_csv(table))
                    for table in sorted(out.glob("*.csv"))}})
        folder = Path(run.dir).parent
    log.info("W&B run of the report: %s", folder)
    return folder
