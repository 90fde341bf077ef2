"""logger=wandb: an offline run directory that holds the config, tags, per-epoch metrics and media."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fusionlab.train import run
from tests.conftest import compose_config


def _records(run_dir: Path) -> list[dict]:
    """The offline run's transaction log, read with W&B's own CLI (no network, no API key)."""
    (offline,) = (run_dir / "wandb").glob("offline-run-*")
    wandb = Path(sys.executable).with_name("wandb")
    listing = subprocess.run([str(wandb), "leet", "inspect", "--json", str(offline)], capture_output=True,
                             text=True, check=True, timeout=120)
    return [json.loads(line) for line in listing.stdout.splitlines() if line.startswith("{")]


def test_offline_wandb_run_holds_config_tags_metrics_and_media(tiny_overrides, monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    run(compose_config(tiny_overrides + ["logger=wandb", "fusion=hvpnet", "trainer.max_epochs=2"]))
    records = _records(tmp_path / "run")
    by_type = lambda kind: [r[kind] for r in records if r.get("type") == kind]  # noqa: E731
    (started,) = by_type("run")
    assert {"hvpnet", "variant:hvpnet", "mner", "synthetic"} <= set(started["tags"])
    assert started["run_group"] == "single"
    config = {k: v for c in by_type("config") for k, v in c["update"].items()}
    assert config["fusion"]["name"] == "hvpnet" and config["task"]["name"] == "mner" and config["seed"] == 1
    history = by_type("history")
    assert len([h for h in history if "val/f1" in h["item"]]) == 2  # one validation per epoch
    assert any("test/f1" in h["item"] for h in history)
    assert any("test/examples.nrows" in h["item"] for h in history)  # the table of example predictions
    assert any("figures/gates" in key for h in history for key in h["item"])  # HVPNeT's Figure 4
