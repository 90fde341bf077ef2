"""Shared benchmark plumbing: compose the default config and build model + data like train.py."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from fusionlab.train import assemble

os.environ.setdefault("HF_HUB_OFFLINE", "1")
CONF = Path(__file__).resolve().parents[1] / "conf"


def compose_config(overrides: list[str]):
    """The default run's config, with ``overrides``."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=["output_dir=/tmp/fusionlab-bench", *overrides])


def build(overrides: list[str]):
    """The default run's datamodule and model, with ``overrides``."""
    cfg = compose_config(overrides)
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


def train_step(model, optimizer, batch: dict, device_type: str, bf16: bool = False):
    """One optimiser step as training takes it (with ``bf16``: autocast as Lightning's bf16-mixed, fp32
    weights); returns the loss. The gradients stay on the parameters until the next step."""
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
        loss = model.training_step(batch, 0)
    loss.backward()
    optimizer.step()
    return loss
