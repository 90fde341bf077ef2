"""A sweep's progress (``-m``): which of its runs each job is, and how each ended, as log lines (a sweep
runs for hours under logs and schedulers, where a drawn bar would not be seen)."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

log = logging.getLogger(__name__)
SIZE_VARIABLE = "FUSIONLAB_SWEEP_SIZE"  # passed to the jobs, also to those a parallel launcher starts elsewhere


def sweep_size(config: DictConfig) -> int | None:
    """How many runs the sweep holds: the product of its comma lists (an Optuna search: its trials)."""
    trials = config.hydra.sweeper.get("n_trials")
    if trials is not None:
        return int(trials)
    overrides = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
    return math.prod(len(list(o.sweep_string_iterator())) for o in overrides if o.is_sweep_override())


class SweepProgress(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        size = sweep_size(config)
        os.environ[SIZE_VARIABLE] = str(size)
        log.info("sweep of %s run%s into %s", size, "s" * (size != 1), config.hydra.sweep.dir)

    def on_job_start(self, config: DictConfig, **kwargs) -> None:
        if config.hydra.mode == RunMode.MULTIRUN:
            log.info("sweep run %s: %s", _position(config), Path(config.hydra.runtime.output_dir).name)

    def on_job_end(self, config: DictConfig, job_return, **kwargs) -> None:
        if config.hydra.mode == RunMode.MULTIRUN:
            log.info("sweep run %s ended: %s", _position(config), _ending(job_return))


def _ending(job_return: JobReturn) -> str:
    """A run's end as fusionlab.train reports it: its best validation score, or NaN when it failed (and
    recorded failed.json, the sweep going on)."""
    if job_return.status != JobStatus.COMPLETED:
        return job_return.status.name.lower()
    value = job_return.return_value
    return "failed (its failed.json says why)" if isinstance(value, float) and math.isnan(value) else \
        f"best validation score {value:.4f}" if isinstance(value, float) else "completed"


def _position(config: DictConfig) -> str:
    return f"{config.hydra.job.num + 1} of {os.environ.get(SIZE_VARIABLE, '?')}"
