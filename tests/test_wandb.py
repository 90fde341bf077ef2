"""logger=wandb in a sweep, as a user types it: an offline run named by its identity, grouped with the other
seeds of its configuration, tagged with its sweep, whose summary holds the best validation score, with a
learning-rate curve, the run's figures and a table of test predictions (images, readable entities); and the
report's figures and tables in a W&B run of their own (``report ... wandb=<project>``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from fusionlab.callbacks.prediction_text import readable

TINY = ["encoder=tiny", "trainer.enable_progress_bar=false", "dataset.synthetic.train=32", "dataset.synthetic.val=8",
        "dataset.synthetic.test=8", "data.batch_size=16", "trainer.max_epochs=2", "trainer.log_every_n_steps=1"]


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """A command as a user runs it, offline, without an API key; W&B's staged artifacts stay under ``cwd``."""
    env = {key: value for key, value in os.environ.items() if key != "WANDB_API_KEY"}
    env |= {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "WANDB_DATA_DIR": str(cwd / "wandb_data")}
    done = subprocess.run([sys.executable, "-m", *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@cache
def _records(wandb_dir: Path) -> dict[str, list[dict]]:
    """The offline run's transaction log by record type, read with W&B's own CLI (no network, no API key)."""
    (offline,) = wandb_dir.glob("offline-run-*")
    wandb = Path(sys.executable).with_name("wandb")
    listing = subprocess.run([str(wandb), "leet", "inspect", "--json", str(offline)], capture_output=True,
                             text=True, check=True, timeout=120)
    records: dict[str, list[dict]] = {}
    for line in listing.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            records.setdefault(record.get("type"), []).append(record.get(record.get("type")))
    return records


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """A one-run sweep of HVPNeT (it draws a figure) with W&B, and the report of it uploaded to W&B."""
    root = tmp_path_factory.mktemp("wandb")
    _run(["fusionlab.train", "-m", "logger=[csv,wandb]", "fusion=hvpnet", "tags=[paper]", *TINY,
          f"hydra.sweep.dir={root}/sweep_a", f"cache_root={root}/cache"], root)
    _run(["fusionlab.report", "runs=sweep_a", "wandb=fusionlab"], root)
    return root / "sweep_a"


def test_a_sweep_run_is_named_grouped_and_tagged_by_what_it_is(sweep):
    (run_dir,) = sweep.glob("hvpnet_*")
    (started,) = _records(run_dir / "wandb")["run"]
    assert started["display_name"] == run_dir.name and run_dir.name.startswith("hvpnet_mner_synthetic_s1_data.batch_size-16_")
    # the seeds of one configuration share a group: the identity less its seed
    assert started["run_group"] == "hvpnet_mner_synthetic_" + run_dir.name.removeprefix("hvpnet_mner_synthetic_s1_")
    assert started["tags"] == ["hvpnet", "variant:hvpnet", "mner", "synthetic", "sweep:sweep_a", "paper"]


def test_the_summary_holds_the_best_validation_and_the_history_the_learning_rate(sweep):
    (run_dir,) = sweep.glob("hvpnet_*")
    records = _records(run_dir / "wandb")
    assert {"name": "val/f1", "options": {"defined": True}, "summary": {"max": True}} in records["metric"]
    summary = {key: value for update in records["summary"] for key, value in update["update"].items()}
    history = [h["item"] for h in records["history"]]
    validations = [h["val/f1"] for h in history if "val/f1" in h]
    assert len(validations) == 2 and summary["val/f1"] == {"max": max(validations)}
    assert summary["test/f1"] == pytest.approx(json.loads((run_dir / "results.json").read_text())["metrics"]["test"]["f1"])
    assert any(key.startswith("lr-") for h in history for key in h)  # LearningRateMonitor's curve
    assert any(key.startswith("figures/gates") for h in history for key in h)  # HVPNeT's Figure 4


def test_the_prediction_table_shows_images_and_marked_entities(sweep):
    (run_dir,) = sweep.glob("hvpnet_*")
    (artifact,) = _records(run_dir / "wandb")["artifact"]  # W&B keeps a table with media as a run_table artifact
    files = {entry["path"]: Path(entry["local_path"]) for entry in artifact["manifest"]["contents"]}
    table = json.loads(files["test/examples.table.json"].read_text())
    dumped = [json.loads(line) for line in (run_dir / "test_predictions.jsonl").read_text().splitlines()]
    assert table["columns"] == ["text", "image", "gold", "predicted", "group"] and len(table["data"]) == len(dumped)
    text, image, gold, predicted, group = table["data"][0]
    assert text == " ".join(dumped[0]["words"]) and group == dumped[0]["group"]
    assert image["_type"] == "image-file" and image["path"] in files and image["path"].endswith(dumped[0]["image"])
    assert {"gold": gold, "predicted": predicted} == readable("mner", dumped[0]) and "[" in gold


def test_the_report_goes_to_wandb_with_its_figures_and_tables(sweep):
    records = _records(sweep / "report" / "wandb")
    (started,) = records["run"]
    assert started["job_type"] == "report" and started["display_name"] == "sweep_a"
    uploaded = {Path(f["path"]).name.rsplit("_", 2)[0] for r in records["files"] for f in r["files"]}  # <stem>_<step>_<hash>
    figures = {png.stem for png in (sweep / "report").glob("*.png")}
    assert figures and figures <= uploaded
    (logged,) = records["history"]
    assert logged["item"]["tables/results._type"] == "table-file" and logged["item"]["tables/results.nrows"] >= 1


@pytest.mark.parametrize(("task", "row", "gold", "predicted"), [
    ("mner", {"words": ["Barack", "Obama", "visits", "Paris"], "gold": ["B-PER", "I-PER", "O", "B-LOC"],
              "predicted": ["B-PER", "O", "O", "I-LOC"]},
     "[PER Barack Obama] visits [LOC Paris]", "[PER Barack] Obama visits [LOC Paris]"),
    ("mre", {"words": ["Tom", "lives", "in", "Berlin"], "head": [0, 1], "tail": [3, 4],
             "gold": "/per/loc/place_of_residence", "predicted": "None"},
     "Tom —/per/loc/place_of_residence→ Berlin", "Tom —None→ Berlin"),
    ("joint", {"words": ["Ottawa", "is", "Canada's", "capital"], "gold_triples": [["Canada", "capital", "Ottawa"],
               ["Ottawa", "country", "Canada"]], "predicted_triples": []},
     "Canada —capital→ Ottawa; Ottawa —country→ Canada", ""),
    ("msa", {"words": ["sunny", "day"], "gold": "positive", "predicted": "neutral"}, "positive", "neutral"),
])
def test_prediction_rows_read_as_marked_text(task, row, gold, predicted):
    assert readable(task, row) == {"gold": gold, "predicted": predicted}
