"""Configs composed from Python as the commands compose them: Hydra's compose API on ``fusionlab.CONF``, with
Hydra's own config set for a run as ``@hydra.main`` sets it."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict, read_write

from fusionlab import CONF


def composed(config_name: str, overrides: Sequence[str], job_name: str, hydra: bool = False) -> DictConfig:
    """``conf/<config_name>.yaml`` with ``overrides`` (Hydra's grammar, as typed after the command ``job_name``);
    raises Hydra's exceptions (``hydra.errors.HydraException`` and its kind) for one it cannot apply. ``hydra``: keep
    Hydra's node."""
    if isinstance(overrides, str):
        raise TypeError(f"overrides={overrides!r}: a list of overrides, e.g. ['fusion=concat', 'seed=2']")
    with initialize_config_dir(config_dir=CONF, version_base="1.3", job_name=job_name):
        return compose(config_name=config_name, overrides=list(overrides), return_hydra_config=hydra)


@contextmanager
def hydra_run(overrides: Sequence[str], output_dir: str | Path | None = None) -> Iterator[DictConfig]:
    """The config ``python -m fusionlab.train <overrides>`` runs with, while Hydra's config is set as that command
    sets it: ``${hydra:runtime.output_dir}`` (``output_dir``) is ``output_dir`` or, as for the command,
    ``hydra.run.dir`` (``outputs/<the run's identity>``, fusionlab.run.identity), and the job's overrides are its
    recorded command. Hydra's previous state is restored afterwards."""
    cfg = composed("config", overrides, "train", hydra=True)
    previous = HydraConfig.instance().cfg
    try:
        HydraConfig.instance().set_config(cfg)  # hydra.run.dir may name ${hydra:...} too
        run_dir = Path(output_dir if output_dir is not None else cfg.hydra.run.dir).resolve()
        with read_write(cfg.hydra.runtime), open_dict(cfg.hydra.runtime):
            cfg.hydra.runtime.output_dir = str(run_dir)
        HydraConfig.instance().set_config(cfg)
        job = copy.deepcopy(cfg)
        with read_write(job), open_dict(job):
            del job["hydra"]
        yield job
    finally:
        HydraConfig.instance().cfg = previous
