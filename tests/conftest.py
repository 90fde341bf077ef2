"""Shared test helpers: Hydra composition with tiny encoders, and the real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

os.environ.setdefault("HF_HUB_OFFLINE", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):  # make test runs one process per core: one torch thread each
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
CONF = Path(__file__).resolve().parents[1] / "conf"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def compose_config(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


@pytest.fixture
def tiny_overrides(tmp_path):
    """A small synthetic run on tiny random encoders, writing under tmp_path."""
    return [
        "encoder=tiny", "logger=none", f"output_dir={tmp_path}/run", f"cache_root={tmp_path}/cache",
        "dataset.synthetic.train=48", "dataset.synthetic.val=16", "dataset.synthetic.test=16",
        "data.batch_size=16", "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
    ]


def shared_file(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (real data lives in ../shared/data)")
    return path
