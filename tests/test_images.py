"""Images: masks and the counted missing-image fallback, and the feature cache's keying."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import torch
from PIL import Image

from fusionlab.data.corruption import ImageCorruption
from fusionlab.data.feature_cache import FeatureCache
from fusionlab.data.images import ImageStore, to_rgb
from fusionlab.encoders.vision import vision_encoder


def _image(path, colour):
    Image.new("RGB", (20, 20), colour).save(path)


def test_missing_and_unreadable_images_fall_back_to_masked_zeros_and_are_counted(tmp_path):
    _image(tmp_path / "ok.png", (255, 0, 0))
    (tmp_path / "broken.png").write_bytes(b"not an image")
    store = ImageStore(tmp_path, tmp_path, {"ok.png": ["ok.png", "gone.png"]}, max_aux=3, size=32)
    pixels, ok = store.load(store.image_path("ok.png"))
    assert ok and pixels.shape == (3, 32, 32) and pixels.abs().sum() > 0
    for name in ("gone.png", "broken.png"):
        pixels, ok = store.load(store.image_path(name))
        assert not ok and pixels.abs().sum() == 0
    assert list(store.unreadable) == [str(tmp_path / "broken.png")]
    assert store.audit(["ok.png", "gone.png", None], with_aux=True) == {
        "missing_images": 2, "missing_aux": 1, "aux_slots_empty": 7}


def test_feature_cache_hits_then_invalidates_when_the_file_changes(tmp_path):
    path = tmp_path / "a.png"
    _image(path, (0, 0, 255))
    store = ImageStore(tmp_path, size=32)
    encoder = vision_encoder("tiny", freeze=True)
    cache = FeatureCache(tmp_path / "cache", encoder.identity)
    assert cache.fill([path], encoder, store) == 1
    assert cache.fill([path], encoder, store) == 0  # hit
    cached = cache.get(path, store)
    with torch.no_grad():
        direct = encoder(store.load(path)[0].unsqueeze(0))
    assert torch.allclose(cached["grid"], direct["grid"][0], atol=1e-6)
    _image(path, (0, 255, 0))
    os.utime(path, ns=(1, 1))
    assert cache.fill([path], encoder, store) == 1  # file changed: recomputed
    corrupted = ImageStore(tmp_path, size=32, corruption=ImageCorruption("image_noise", 0.5))
    assert cache.fill([path], encoder, corrupted) == 1  # transform changed (a corruption): recomputed


def warnings_about(caplog, path) -> int:
    """How many warnings name ``path``."""
    return sum(str(path) in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def spoil(path, how: str) -> None:
    """Make the image file ``path`` ``empty``, ``truncated`` (half its bytes), ``text`` (not an image) or a
    ``bomb`` (200 x 200 pixels: a decompression bomb once ``Image.MAX_IMAGE_PIXELS`` is below 20000)."""
    data = path.read_bytes()
    if how == "bomb":
        Image.new("RGB", (200, 200), (9, 9, 9)).save(path, format="PNG")
    else:
        path.write_bytes({"empty": b"", "truncated": data[:len(data) // 2], "text": b"not an image"}[how])


def _spoiled(folder):
    """A readable ``ok.png``, and ``empty.png``, ``truncated.png`` and ``text.png`` spoilt copies of it."""
    Image.effect_noise((20, 20), 60).convert("RGB").save(folder / "ok.png")
    bad = [folder / f"{how}.png" for how in ("empty", "truncated", "text")]
    for path in bad:
        path.write_bytes((folder / "ok.png").read_bytes())
        spoil(path, path.stem)
    return bad


def test_an_unreadable_image_is_counted_and_warned_once_however_often_it_is_loaded(tmp_path, caplog):
    bad = _spoiled(tmp_path)
    store = ImageStore(tmp_path, size=16)
    for _ in range(3):  # epochs
        for path in bad:
            pixels, ok = store.load(path)
            assert not ok and pixels.shape == (3, 16, 16) and pixels.abs().sum() == 0
            target, ok = store.load(path, size=8)  # a generation target of the same file
            assert not ok and target.shape == (3, 8, 8) and target.abs().sum() == 0
    assert sorted(store.unreadable) == sorted(map(str, bad))
    assert [warnings_about(caplog, path) for path in bad] == [1, 1, 1]
    assert store.unreadable[str(tmp_path / "truncated.png")].startswith("OSError: image file is truncated")


def test_audit_opens_headers_and_records_the_files_that_cannot_be_opened(tmp_path, caplog):
    _spoiled(tmp_path)
    store = ImageStore(tmp_path, size=16)
    images = ["ok.png", "empty.png", "truncated.png", "text.png", "gone.png"]
    assert store.audit(images, with_aux=False) == {"missing_images": 1}
    # a truncated file opens: it is found when decoded
    assert sorted(store.unreadable) == [str(tmp_path / "empty.png"), str(tmp_path / "text.png")]
    store.audit(images, with_aux=False)
    assert warnings_about(caplog, tmp_path / "empty.png") == 1


def test_a_decompression_bomb_is_masked_and_warned_with_its_path(tmp_path, monkeypatch, caplog):
    Image.new("RGB", (100, 100)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # an error over 2 * 1000 pixels
    store = ImageStore(tmp_path, size=16)
    pixels, ok = store.load(tmp_path / "bomb.png")
    assert not ok and pixels.abs().sum() == 0
    assert "DecompressionBombError" in store.unreadable[str(tmp_path / "bomb.png")]
    assert warnings_about(caplog, tmp_path / "bomb.png") == 1


@pytest.mark.parametrize("mode, name", [("I;16", "deep.png"), ("I", "deep.tif")])  # older Pillow: PNGs as I
def test_a_16_bit_greyscale_image_is_scaled_to_8_bits_not_clipped_to_white(tmp_path, mode, name):
    values = np.array([[0, 257, 32896, 65535]] * 4, dtype=np.uint16)  # 0, 1, 128, 255 in 8 bits
    Image.fromarray(values if mode == "I;16" else values.astype(np.int32)).save(tmp_path / name)
    with Image.open(tmp_path / name) as image:
        assert image.mode == mode
        rgb = to_rgb(image)
    assert rgb.mode == "RGB" and np.asarray(rgb)[0, :, 0].tolist() == [0, 1, 128, 255]
    assert (np.asarray(rgb) == np.asarray(rgb)[..., :1]).all()  # grey
    store = ImageStore(tmp_path, size=4)
    pixels, ok = store.load(tmp_path / name)
    assert ok and torch.equal(pixels, store.transform(rgb))


def test_feature_cache_fill_records_unreadable_images_and_serves_none_for_them(tmp_path, caplog):
    bad = _spoiled(tmp_path)
    store = ImageStore(tmp_path, size=32)
    encoder = vision_encoder("tiny", freeze=True)
    cache = FeatureCache(tmp_path / "cache", encoder.identity)
    assert cache.fill([tmp_path / "ok.png", *bad], encoder, store) == 1  # only the readable one is stored
    assert sorted(store.unreadable) == sorted(map(str, bad))
    assert all(cache.get(path, store) is None for path in bad)
    assert set(cache.get(tmp_path / "ok.png", store)) == {"pyramid_0", "pyramid_1", "pyramid_2", "pyramid_3", "grid"}
    _image(tmp_path / "ok.png", (0, 0, 0))  # changed after the fill: no entry, so the policy applies
    os.utime(tmp_path / "ok.png", ns=(1, 1))
    assert cache.get(tmp_path / "ok.png", store) is None and cache.get(tmp_path / "ok.png", store) is None
    assert "changed after the feature cache was filled" in store.unreadable[str(tmp_path / "ok.png")]
    assert [warnings_about(caplog, path) for path in [tmp_path / "ok.png", *bad]] == [1, 1, 1, 1]
