"""Shared benchmark plumbing: compose the default config and build model + data like train.py."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

from fusionlab.train import assemble

os.environ.setdefault("HF_HUB_OFFLINE", "1")
CONF = Path(__file__).resolve().parents[1] / "conf"


def build(overrides: list[str]):
    """The default run's datamodule and model, with ``overrides``."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["output_dir=/tmp/fusionlab-bench", *overrides])
    parts = assemble(cfg)
    return cfg, parts.datamodule, parts.model


def summary(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
