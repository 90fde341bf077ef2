"""Bad image files through whole runs: the missing-image policy on pixels, cached features and predict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from fusionlab.data.synthetic import SyntheticBenchmark, SyntheticConfig
from fusionlab.predict import predict
from fusionlab.sharing.loading import load_assembly
from fusionlab.train import assemble, run
from tests.conftest import compose_config
from tests.test_images import spoil, warnings_about

BOMB_LIMIT = 64 * 64  # MAX_IMAGE_PIXELS: the synthetic images (64 x 64) pass, spoil's bombs do not
BAD = {"train_0.png": "empty", "train_1.png": "truncated", "train_2.png": "bomb",
       "val_0.png": "truncated", "test_0.png": "empty", "test_1.png": "bomb"}


@pytest.fixture
def bad_images(tiny_overrides, monkeypatch):
    """Overrides for a mner run whose synthetic benchmark has the six BAD image files."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", BOMB_LIMIT)
    overrides = tiny_overrides + ["fusion=concat", "task=mner", "trainer.max_epochs=3"]
    cfg = compose_config(overrides)
    SyntheticBenchmark(cfg.dataset.root, SyntheticConfig(**cfg.dataset.synthetic)).ensure("mner")
    folder = Path(cfg.dataset.image_dir)
    for name, how in BAD.items():
        spoil(folder / name, how)
    return overrides, [folder / name for name in BAD]


@pytest.mark.parametrize("freeze", [True, False], ids=["cached_features", "pixels"])
def test_bad_image_files_are_counted_once_per_file_over_three_epochs_and_warned_once_with_their_path(
        tmp_path, bad_images, caplog, freeze):
    overrides, bad = bad_images
    results = run(compose_config(overrides + [f"encoder.vision.freeze={str(freeze).lower()}"]))
    assert results["data"]["unreadable_images"] == len(BAD) == 6
    assert json.loads((tmp_path / "run" / "results.json").read_text())["data"]["unreadable_images"] == 6
    assert [warnings_about(caplog, path) for path in bad] == [1] * 6


def test_bad_image_files_found_by_dataloader_workers_are_counted_once_per_file(tmp_path, bad_images):
    """Truncated files fail only when decoded, inside a worker: the count still reaches results.json."""
    overrides, _ = bad_images
    results = run(compose_config(overrides + ["encoder.vision.freeze=false", "data.num_workers=2"]))
    assert results["data"]["unreadable_images"] == 6


def test_cached_features_of_a_bad_image_are_masked_zeros_not_a_missing_cache_file(bad_images):
    overrides, bad = bad_images
    datamodule = assemble(compose_config(overrides + ["encoder.vision.freeze=true"])).datamodule
    assert datamodule.image_mode == "features"
    assert datamodule.stats["feature_cache"] == {"computed": 80 - 6, "images": 80}
    assert datamodule.unreadable.keys() == {str(p) for p in bad}
    train = datamodule.splits["train"]
    for index in range(4):  # train_0..2 are bad, train_3 is fine
        item = train[index]
        assert item["example"].image == f"train_{index}.png"
        assert item["image_mask"] == (index == 3)
        assert (sum(v.abs().sum() for v in item["image"].values()) > 0) == (index == 3)


@pytest.mark.parametrize("how", ["empty", "truncated", "bomb"])
def test_predict_with_a_bad_image_predicts_as_without_one_and_warns_once_with_its_path(
        tmp_path, tiny_overrides, caplog, monkeypatch, how):
    run(compose_config(tiny_overrides + ["fusion=concat", "task=mner", "encoder.vision.freeze=true"]))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", BOMB_LIMIT)
    image = tmp_path / "new.png"
    Image.effect_noise((64, 64), 60).convert("RGB").save(image)
    spoil(image, how)
    parts = load_assembly(tmp_path / "run" / "checkpoints" / "best.ckpt")
    text = "look at Kalo Miren"
    rows = predict(parts, [{"text": text, "image": str(image)}] * 2)
    assert [r["image"] for r in rows] == [str(image.resolve())] * 2
    (without,) = predict(parts, [{"text": text}])
    for row in rows:  # masked: as if there were no image (scores to float rounding: the batches differ in size)
        assert [{**e, "score": pytest.approx(e["score"], rel=1e-5)} for e in row["entities"]] == without["entities"]
    assert all(r["image_unreadable"] for r in rows) and "image_unreadable" not in without
    assert warnings_about(caplog, image.resolve()) == 1
