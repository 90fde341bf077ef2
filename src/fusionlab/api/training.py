"""``fusionlab.train(overrides=[...], output_dir=None)``: one run from Python, as ``python -m fusionlab.train``
makes it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fusionlab.api.compose import hydra_run
from fusionlab.api.results import RunResult
from fusionlab.train import run


def train(overrides: Sequence[str] = (), output_dir: str | Path | None = None) -> RunResult:
    """Train, test and record the run ``python -m fusionlab.train <overrides>`` makes (Hydra's override grammar, e.g.
    ``["fusion=concat", "task=mner", "seed=2"]``; a sweep is one call per run), in ``output_dir`` or, as the
    command, in ``outputs/<the run's identity>`` (``runs_root=`` moves it). The same overrides find the same folder:
    an interrupted run continues, a finished one is returned as recorded, not trained again.

    Raises Hydra's exceptions for overrides it cannot compose, ValueError for settings a run refuses, and what
    stops a run (e.g. ``FloatingPointError`` when its loss diverges); never ``SystemExit``."""
    with hydra_run(overrides, output_dir) as cfg:
        results = run(cfg)
        return RunResult.from_results(Path(cfg.output_dir).resolve(), results)
