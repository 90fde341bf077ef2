"""Every task trains on synthetic data for both baselines and writes a complete results.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fusionlab.run.results import PROC_CLEAR_REFS
from fusionlab.train import assemble, run
from tests.conftest import compose_config

MAIN_METRIC = {"mner": "f1", "mre": "f1", "joint": "f1", "msa": "accuracy"}


@pytest.mark.parametrize("fusion", ["text_only", "concat", "hvpnet", "pmei"])
@pytest.mark.parametrize("task", ["mner", "mre", "joint", "msa"])
def test_task_trains_and_reports(tmp_path, tiny_overrides, fusion, task):
    cfg = compose_config(tiny_overrides + [f"fusion={fusion}", f"task={task}", "trainer.max_epochs=2"])
    results = run(cfg)
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["fusion"] == fusion and saved["task"] == task and saved["dataset"] == "synthetic"
    assert saved["encoders"] == {"text": "tiny", "vision": "tiny"}
    test = saved["metrics"]["test"]
    assert 0.0 <= test[MAIN_METRIC[task]] <= 1.0
    assert saved["best_epoch"] in (0, 1) and len(saved["timing"]["train_seconds_per_epoch"]) == 2
    assert saved["params"]["trainable"] > 0 and saved["peak_memory_mb"] > 0
    assert saved["data"]["splits"]["test"]["examples"] == 16
    assert saved["config"]["seed"] == 1 and results["metrics"]["val"] == saved["metrics"]["val"]
    rows = (tmp_path / "run" / "test_predictions.jsonl").read_text().splitlines()
    assert len(rows) == 16 and {"image", "group", "words", "gold", "predicted"} <= json.loads(rows[0]).keys()
    groups = saved["metrics"]["test_groups"]  # the synthetic benchmark's evaluation subsets
    assert set(groups) <= {"text_decides", "text_decides_irrelevant_image", "image_decides"} and groups
    assert (tmp_path / "run" / "gates.png").exists() == (fusion in ("hvpnet", "pmei"))  # PMEI's base: HVPNeT


def _model_and_batch(overrides):
    parts = assemble(compose_config(overrides))
    return parts.model, next(iter(parts.datamodule.train_dataloader())), parts.datamodule


def test_gradient_reaches_an_unfrozen_image_encoder(tiny_overrides):
    model, batch, _ = _model_and_batch(tiny_overrides + ["fusion=concat", "encoder.vision.freeze=false"])
    assert "image" in batch and batch["image"].dim() == 4  # pixels, not cached features
    model.training_step(batch, 0).backward()
    grads = [p.grad for p in model.method.vision.parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0


@pytest.mark.parametrize("fusion", ["hvpnet", "pmei"])
def test_encoders_method_layers_and_task_heads_get_their_own_learning_rates(tiny_overrides, fusion):
    model, _, _ = _model_and_batch(tiny_overrides + [f"fusion={fusion}", "task=mner", "encoder.vision.freeze=false",
                                                     "optim.lr=3e-4", "optim.encoder_lr=2e-5", "optim.head_lr=5e-3"])
    rate = {id(p): group["lr"] for group in model.parameter_groups() for p in group["params"]}
    assert rate[id(model.head.crf.transitions)] == 5e-3  # the CRF is part of the head
    encoders = [*model.method.text.parameters(), *model.method.vision.parameters()]
    assert {rate[id(p)] for p in encoders} == {2e-5}
    method = [p for name, p in model.named_parameters()
              if not name.startswith(("method.text.", "method.vision.", "head.", "method.early.", "method.base.text.",
                                      "method.base.vision."))]
    assert method and {rate[id(p)] for p in method} == {3e-4}
    if fusion == "pmei":  # its early classifiers C'_e are task heads too
        assert {rate[id(p)] for p in model.method.early.parameters()} == {5e-3}
    assert len(rate) == sum(p.requires_grad for p in model.parameters())  # every parameter in exactly one group


def test_frozen_image_encoder_is_served_from_the_cache_and_gets_no_gradient(tiny_overrides):
    model, batch, datamodule = _model_and_batch(tiny_overrides + ["fusion=concat", "encoder.vision.freeze=true"])
    assert isinstance(batch["image"], dict) and datamodule.stats["feature_cache"]["computed"] > 0
    model.training_step(batch, 0).backward()
    assert all(p.grad is None for p in model.method.vision.parameters())


def test_missing_images_are_masked_counted_and_change_nothing_for_the_image_path(tmp_path, tiny_overrides):
    empty = tmp_path / "no_images"
    empty.mkdir()
    overrides = tiny_overrides + ["fusion=concat", f"dataset.image_dir={empty}"]
    model, batch, datamodule = _model_and_batch(overrides)
    assert datamodule.stats["splits"]["train"]["missing_images"] == 48
    assert not batch["image_mask"].any()
    model.eval()
    with torch.no_grad():
        before = model.method(batch).states
        batch["image"] = torch.randn_like(batch["image"])  # masked pixels: must not matter
        assert torch.allclose(before, model.method(batch).states)
    results = run(compose_config(overrides))
    assert results["data"]["splits"]["test"]["missing_images"] == 16


def test_text_only_loads_no_images(tiny_overrides):
    model, batch, _ = _model_and_batch(tiny_overrides + ["fusion=text_only"])
    assert "image" not in batch and model.method.vision is None


def test_sample_ratio_subsamples_train_only_and_is_seeded(tiny_overrides):
    overrides = tiny_overrides + ["fusion=text_only", "data.sample_ratio=0.5"]
    _, _, first = _model_and_batch(overrides)
    _, _, second = _model_and_batch(overrides)
    assert first.stats["splits"]["train"]["examples"] == 24 and first.stats["splits"]["val"]["examples"] == 16
    assert [e.words for e in first.splits["train"].examples] == [e.words for e in second.splits["train"].examples]


def test_unsupported_pair_fails_before_any_training(tiny_overrides):
    overrides = [o for o in tiny_overrides if not o.startswith("dataset.")]
    with pytest.raises(ValueError, match="serves tasks"):
        run(compose_config(overrides + ["dataset=twitter2015", "task=msa"]))
    assert not Path(overrides[3].split("=", 1)[1]).exists()  # nothing was generated or cached


def test_group_metrics_equal_scoring_each_group_alone(tmp_path, tiny_overrides):
    run(compose_config(tiny_overrides + ["fusion=text_only", "task=msa"]))
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    rows = [json.loads(r) for r in (tmp_path / "run" / "test_predictions.jsonl").read_text().splitlines()]
    for group, metrics in saved["metrics"]["test_groups"].items():
        members = [r for r in rows if r["group"] == group]
        assert metrics["accuracy"] == pytest.approx(sum(r["gold"] == r["predicted"] for r in members) / len(members))


PEAK_PROBE = """
import json, torch
from fusionlab.run.results import peak_memory, reset_peak_memory
reset_peak_memory()
before, source = peak_memory()
block = torch.ones(128 * 2**20 // 4)  # 128 MB, touched
during, _ = peak_memory()
del block
reset_peak_memory()
after, _ = peak_memory()
print(json.dumps([source, before, during, after]))
"""


@pytest.mark.skipif(not PROC_CLEAR_REFS.exists(), reason="resetting the CPU peak needs Linux's /proc")
def test_peak_memory_is_per_run_not_per_process():
    """Runs of a sweep share a process: an earlier run's peak must not show in the next one's. Probed in a
    fresh process: freed memory this one keeps (allocators rarely return it) would hide the new block."""
    done = subprocess.run([sys.executable, "-c", PEAK_PROBE], capture_output=True, text=True, timeout=120)
    source, before, during, after = json.loads(done.stdout.splitlines()[-1])
    assert source == "process_peak_rss" and during - before > 100 and during - after > 100
