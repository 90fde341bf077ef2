"""``fusionlab.evaluate(run_dir, ...)``: a finished run's checkpoint tested again, as ``python -m fusionlab.evaluate``
tests it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

from fusionlab.api.compose import composed
from fusionlab.api.results import Evaluation
from fusionlab.evaluate import evaluate as test_again
from fusionlab.evaluate import robustness_curve


def evaluate(run_dir: str | Path, test_images: str = "clean", *, checkpoint: str | Path | None = None,
             test_file: str | Path | None = None, corruption: str | None = None,
             levels: Sequence[float] | None = None, overrides: Sequence[str] = ()) -> Evaluation:
    """Test the run in ``run_dir`` again (conf/evaluate.yaml documents each key): with its images ``shuffled`` or
    ``removed``, on another ``test_file`` of its dataset, or at every level of a ``corruption``; ``overrides`` set
    the rest as on the command line (e.g. ``["trainer=ddp_cpu"]``). Writes the record into the run folder, as the
    command does, and returns it."""
    cfg = composed("evaluate", overrides, "evaluate")
    keys = {"run_dir": str(run_dir), "test_images": test_images, "checkpoint": checkpoint and str(checkpoint),
            "test_file": test_file and str(test_file), "corruption": corruption, "levels": levels and list(levels)}
    for key, value in keys.items():
        if value is not None:
            OmegaConf.update(cfg, key, value)
    if cfg.corruption:
        record = robustness_curve(cfg.run_dir, cfg.checkpoint, cfg.corruption, list(cfg.levels), cfg.trainer)
    else:
        record = test_again(cfg.run_dir, cfg.checkpoint, cfg.test_images, cfg.trainer, cfg.test_file)
    return Evaluation(Path(run_dir).resolve(), record)
