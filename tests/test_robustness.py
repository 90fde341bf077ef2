"""Robustness curves as MultiBench draws them: graded test-time corruptions that do what their level says,
curves of a trained run's checkpoint, and relative / effective robustness in the report."""

from __future__ import annotations

import json

import pytest
import torch
from matplotlib.collections import PathCollection
from omegaconf import OmegaConf

from fusionlab.analysis.cells import collect
from fusionlab.analysis.comparison import build_tables
from fusionlab.analysis.plots.comparison import draw_robustness
from fusionlab.analysis.robustness import area, paired_perturbations, robustness_rows
from fusionlab.data.corruption import ImageCorruption, corrupt_examples
from fusionlab.data.example import Example
from fusionlab.evaluate import evaluate, robustness_curve
from fusionlab.report import report
from fusionlab.train import run
from tests.conftest import compose_config
from tests.test_report import _fake_run

EXAMPLES = [Example([f"w{i}a", f"w{i}b", f"w{i}c"], image=f"{i}.png", tags=["O"] * 3) for i in range(20)]


def test_example_corruptions_do_what_their_level_says_and_are_seeded():
    for kind in ("missing_images", "token_mask", "char_noise"):
        assert corrupt_examples(EXAMPLES, kind, 0.0, 1, "[UNK]") == EXAMPLES
    half = corrupt_examples(EXAMPLES, "missing_images", 0.5, 1, "[UNK]")
    assert sum(e.image is None for e in half) == 10 and half == corrupt_examples(EXAMPLES, "missing_images", 0.5, 1, "x")
    assert all(w == "[UNK]" for e in corrupt_examples(EXAMPLES, "token_mask", 1.0, 1, "[UNK]") for w in e.words)
    noisy = corrupt_examples(EXAMPLES, "char_noise", 1.0, 1, "[UNK]")
    assert all(a != b for e, n in zip(EXAMPLES, noisy) for a, b in zip(e.words, n.words))
    assert [e.tags for e in noisy] == [e.tags for e in EXAMPLES]  # labels stay aligned


def test_image_corruptions_do_what_their_level_says():
    image = torch.full((3, 20, 20), 0.5)
    for kind in ("image_noise", "image_blur", "image_occlusion"):
        assert torch.equal(ImageCorruption(kind, 0.0)(image), image)
    occluded = ImageCorruption("image_occlusion", 0.25)(image)
    assert (occluded == 0).float().mean() == pytest.approx(0.25)
    noise = ImageCorruption("image_noise", 0.3)
    assert torch.equal(noise(image), noise(image)) and (noise(image) - image).std() == pytest.approx(0.3, rel=0.2)
    assert "image_blur, 0.5" in repr(ImageCorruption("image_blur", 0.5))  # a distinct feature-cache key


def test_a_curve_starts_at_the_clean_score_and_missing_all_images_equals_removing_them(tmp_path, tiny_overrides):
    results = run(compose_config(tiny_overrides + ["fusion=concat", "task=msa"]))
    run_dir, checkpoint = tmp_path / "run", tmp_path / "run" / "checkpoints" / "best.ckpt"
    trainer = OmegaConf.create({"_target_": "lightning.Trainer", "accelerator": "cpu", "devices": 1,
                                "enable_progress_bar": False})
    curve = robustness_curve(run_dir, checkpoint, "missing_images", [0.0, 1.0], trainer)
    clean, gone = (p["metrics"]["test"]["accuracy"] for p in curve["points"])
    assert clean == pytest.approx(results["metrics"]["test"]["accuracy"], abs=1e-6)
    assert gone == pytest.approx(evaluate(run_dir, checkpoint, "removed", trainer)["metrics"]["test"]["accuracy"])
    occluded = robustness_curve(run_dir, checkpoint, "image_occlusion", [0.0, 1.0], trainer)
    assert occluded["points"][0]["metrics"]["test"]["accuracy"] == pytest.approx(clean, abs=1e-6)
    assert json.loads((run_dir / "robustness_image_occlusion.json").read_text())["corruption"] == "image_occlusion"
    table = (report(tmp_path) / "report.md").read_text()
    assert "## Robustness curve: missing_images" in table and (tmp_path / "report" / "robustness_image_occlusion.png").exists()


def _fake(root, fusion, clean, corrupted):
    folder = root / fusion
    folder.mkdir(parents=True)
    record = {"fusion": fusion, "task": "msa", "dataset": "synthetic", "seed": 1, "monitor": "accuracy",
              "metrics": {"val": {}, "test": {"accuracy": clean}, "test_groups": {}}, "params": {"total": 1, "trainable": 1},
              "timing": {"train_seconds_per_epoch": [1.0], "eval_seconds": 1.0, "train_samples_per_second": 1.0},
              "peak_memory_mb": 1.0, "config": {}}
    (folder / "results.json").write_text(json.dumps(record))
    points = [{"level": level, "metrics": {"test": {"accuracy": s}}} for level, s in zip((0.0, 0.5, 1.0), (clean, *corrupted))]
    (folder / "robustness_image_noise.json").write_text(json.dumps({**record, "corruption": "image_noise", "points": points}))


def test_relative_and_effective_robustness_follow_their_definitions(tmp_path):
    _fake(tmp_path, "text_only", 0.70, (0.70, 0.70))
    _fake(tmp_path, "concat", 0.90, (0.80, 0.60))
    _fake(tmp_path, "hvpnet", 0.95, (0.90, 0.85))
    rows = {r["fusion"]: r for r in robustness_rows(collect(tmp_path))["image_noise"]}
    assert area([0, 0.5, 1], [0.9, 0.8, 0.6]) == pytest.approx(0.775) == rows["concat"]["area"]
    assert rows["concat"]["effective_vs_text_only"] == pytest.approx((0.775 - 0.70) - (0.90 - 0.70))
    assert rows["hvpnet"]["effective_vs_concat"] == pytest.approx((0.9 - 0.775) - (0.95 - 0.90))
    assert rows["text_only"]["effective_vs_text_only"] is None
    cells = collect(tmp_path)
    figure = draw_robustness(robustness_rows(cells)["image_noise"], "image_noise", build_tables(cells),
                             tmp_path / "curve.png")
    (axis,) = figure.axes
    curves = [line for line in axis.lines if not line.get_label().startswith("_")]
    assert [line.get_label() for line in curves] == ["text_only (1 seed)", "concat (1 seed)", "hvpnet (1 seed)"]
    assert [t.get_text() for t in figure.legends[0].get_texts()] == [line.get_label() for line in curves]
    assert [line.get_linestyle() for line in curves] == ["--", "-", "-"]
    assert sum(len(c.get_offsets()) for c in axis.collections if isinstance(c, PathCollection)) == 9  # 3 x 3 levels
    assert axis.get_xlabel() == "image_noise level (0: clean)" and axis.get_ylabel().startswith("test accuracy (%); axis")


def test_a_perturbed_score_is_compared_with_the_clean_score_of_the_same_seeds_only(tmp_path):
    for seed, clean in zip((1, 2, 3), (0.60, 0.90, 0.90)):
        folder = _fake_run(tmp_path, "concat", seed, clean)
        if seed == 1:  # only seed 1 was tested with shuffled images
            record = json.loads((folder / "results.json").read_text())
            (folder / "evaluation_shuffled.json").write_text(json.dumps(
                {**record, "test_images": "shuffled", "metrics": {"test": {"f1": 0.50}}}))
    pair = paired_perturbations(collect(tmp_path)["concat", ("synthetic", "mner", 1.0)])["shuffled"]
    assert pair == {"n": 1, "seeds": 3, "clean": [0.60], "changed": [0.50]}
    table = (report(tmp_path) / "report.md").read_text()
    # the 3-seed clean mean (80.0) would make shuffling look 30 points worse
    assert "| concat | synthetic/mner | shuffled | 1 of 3 | 60.0 (1 run) | 50.0 (1 run) | -10.0 (1 run) |" in table
