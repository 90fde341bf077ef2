"""The image methods train on MNRE as HVPNeT released it, reaching its real photos and crops (skips where
../shared/data is absent). Only lines 0-5 of each split have their files: every other line is masked."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from fusionlab.data.dataset import Collator
from fusionlab.data.images import to_rgb
from fusionlab.train import assemble
from tests.conftest import compose_config, shared_file

LINES = range(5)  # the train lines whose photo is in the release folder
CROPS = [2, 3, 3, 2, 3]  # what the release's mre_train_dict.pth lists for them (at most max_aux = 3)


@pytest.fixture(scope="module")
def release():
    return shared_file("hvpnet_release", "RE_data")


@pytest.mark.parametrize("fusion", ["hvpnet", "muse", "mase", "concat"])
def test_an_image_method_trains_on_mnre_as_released_and_reaches_its_photos_and_crops(release, tmp_path, fusion):
    cfg = compose_config([f"fusion={fusion}", "task=mre", "dataset=mnre", "encoder=offline", "logger=none",
                          f"data_root={release.parent}", f"cache_root={tmp_path}/cache", f"output_dir={tmp_path}/run",
                          "fusion.module.em_iterations=1" if fusion == "mase" else "seed=1"])
    parts = assemble(cfg)
    train = parts.datamodule.splits["train"]
    batch = Collator(parts.task, parts.datamodule.tokenizer.pad_token_id or 0)([train[i] for i in LINES])
    assert batch["image_mask"].all()  # the five real photos
    if fusion == "hvpnet":
        assert batch["aux_mask"].sum(1).tolist() == CROPS  # each line's own real crops
    model = parts.model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    for _ in range(2):
        loss = model.training_step(batch, 0)
        assert torch.isfinite(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    splits = parts.datamodule.stats["splits"]
    assert splits["train"]["missing_images"] == 12242  # the absent photos, counted and masked


def test_real_photos_are_decoded_as_the_release_s_loader_does(release):
    """HVPNeT's loader opens a photo with PIL and converts it to RGB: no EXIF orientation is applied. So
    does fusionlab (``to_rgb``); the released photos carry no orientation tag anyway."""
    photos = sorted((release / "img_org").rglob("*.jpg"))
    assert len(photos) == 12
    for path in photos:
        with Image.open(path) as image:
            assert image.getexif().get(0x0112) in (None, 1)  # Orientation: absent or upright
            decoded = to_rgb(image)
            assert decoded.mode == "RGB" and decoded.size == image.size


def test_an_exif_rotated_jpeg_is_read_as_stored_like_the_reference(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.new("RGB", (40, 20), "red").save(path, exif=exif)
    with Image.open(path) as image:
        assert to_rgb(image).size == (40, 20)  # not transposed, as Image.open(...).convert("RGB")


def test_predict_on_a_real_photo_and_a_real_mnre_sentence_returns_a_relation(release, tmp_path):
    from fusionlab.predict import predict
    from fusionlab.sharing.loading import load_assembly
    from fusionlab.train import run

    run(compose_config(["fusion=hvpnet", "task=mre", "dataset=mnre", "encoder=tiny", "logger=none",
                        f"data_root={release.parent}", f"cache_root={tmp_path}/cache", f"output_dir={tmp_path}/run",
                        "trainer.max_epochs=1", "+trainer.limit_train_batches=2", "+trainer.limit_val_batches=1",
                        "+trainer.limit_test_batches=1", "trainer.enable_progress_bar=false"]))
    parts = load_assembly(tmp_path / "run" / "checkpoints" / "best.ckpt")
    sentence = "The latest Arkham Horror LCG deluxe expansion the Circle Undone has been released :"  # train line 0
    photo = release / "img_org" / "train" / "twitter_19_31_16_6.jpg"
    (row,) = predict(parts, [{"text": sentence, "image": str(photo), "head": [8, 10], "tail": [2, 5]}])
    assert row["relation"] in parts.task.data.relations and "/misc/misc/part_of" in parts.task.data.relations
    assert row["image"] == str(photo.resolve()) and "image_unreadable" not in row
    assert (row["head"]["text"], row["tail"]["text"]) == ("Circle Undone", "Arkham Horror LCG")
    missing = release / "img_org" / "train" / "not_released.jpg"
    with pytest.raises(FileNotFoundError, match=f"input 1: image {missing} does not exist"):
        predict(parts, [{"text": sentence, "image": str(missing), "head": [8, 10], "tail": [2, 5]}])
