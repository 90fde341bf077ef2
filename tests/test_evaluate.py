"""Re-testing a checkpoint: on 2 DDP processes it scores exactly like 1; images shuffled or removed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from fusionlab.data.example import Example
from fusionlab.data.splits import perturb_images
from fusionlab.evaluate import evaluate
from fusionlab.report import report
from fusionlab.train import run
from tests.conftest import compose_config

ROOT = Path(__file__).resolve().parents[1]
CPU = OmegaConf.create({"_target_": "lightning.Trainer", "accelerator": "cpu", "devices": 1,
                        "enable_progress_bar": False, "enable_model_summary": False})


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A tiny concat run with an odd test split (15), so that padding duplicates would show."""
    root = tmp_path_factory.mktemp("trained")
    overrides = ["encoder=tiny", "logger=none", f"output_dir={root}/run", f"cache_root={root}/cache",
                 "dataset.synthetic.train=32", "dataset.synthetic.val=16", "dataset.synthetic.test=15",
                 "data.batch_size=16", "data.eval_batch_size=4", "trainer.max_epochs=1",
                 "trainer.enable_progress_bar=false", "fusion=concat"]
    run(compose_config(overrides))
    return root / "run"


def test_two_ddp_processes_score_the_test_set_exactly_like_one(trained_run):
    single = evaluate(trained_run, trained_run / "checkpoints" / "best.ckpt", "clean", CPU)
    command = [sys.executable, "-m", "fusionlab.evaluate", f"run_dir={trained_run}", "trainer=ddp_cpu",
               "trainer.enable_progress_bar=false"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = json.loads((trained_run / "evaluation_clean.json").read_text())
    assert ddp["processes"] == 2 and single["processes"] == 1
    for name, value in single["metrics"]["test"].items():
        if name != "loss":  # the loss is a mean of per-process batch means
            assert ddp["metrics"]["test"][name] == pytest.approx(value, abs=1e-6), name
    for group, metrics in single["metrics"]["test_groups"].items():
        assert ddp["metrics"]["test_groups"][group] == pytest.approx(metrics, abs=1e-6), group
    dumps = sorted((trained_run / "evaluate_clean").glob("test_predictions.rank*.jsonl"))
    assert sum(len(p.read_text().splitlines()) for p in dumps) == 15  # every sample once, none twice


def test_removed_images_are_counted_missing_and_reported_beside_the_clean_score(trained_run, tmp_path):
    clean = json.loads((trained_run / "results.json").read_text())
    removed = evaluate(trained_run, trained_run / "checkpoints" / "best.ckpt", "removed", CPU)
    assert removed["data"]["missing_images"] == 15 and clean["data"]["splits"]["test"]["missing_images"] == 0
    table = (report(trained_run.parent, tmp_path / "report") / "report.md").read_text()
    row = f"| concat | synthetic/mner | removed | 1 of 1 | {100 * clean['metrics']['test']['f1']:.1f} (1 run) | " \
          f"{100 * removed['metrics']['test']['f1']:.1f} (1 run) |"
    assert "## Robustness" in table and row in table


def test_shuffled_images_are_a_seeded_derangement_that_keeps_labels_and_groups():
    examples = [Example([f"w{i}"], f"{i}.png", label=str(i), group=f"g{i}") for i in range(7)]
    shuffled = perturb_images(examples, "shuffled", seed=3)
    assert all(s.image != e.image for s, e in zip(shuffled, examples))
    assert sorted(s.image for s in shuffled) == sorted(e.image for e in examples)
    assert [(s.label, s.group) for s in shuffled] == [(e.label, e.group) for e in examples]
    assert [s.image for s in perturb_images(examples, "shuffled", seed=3)] == [s.image for s in shuffled]
    assert all(s.image is None for s in perturb_images(examples, "removed", seed=3))
    with pytest.raises(ValueError, match="test_images must be one of"):
        perturb_images(examples, "blurred", seed=3)
