"""Images: masks and the counted missing-image fallback, and the feature cache's keying."""

from __future__ import annotations

import os

import torch
from PIL import Image

from fusionlab.data.feature_cache import FeatureCache
from fusionlab.data.images import ImageStore
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
    assert store.failed["unreadable_images"] == 1
    assert store.audit(["ok.png", "gone.png", None], with_aux=True) == {
        "missing_images": 2, "missing_aux": 1, "aux_slots_empty": 7}


def test_feature_cache_hits_then_invalidates_when_the_file_changes(tmp_path):
    path = tmp_path / "a.png"
    _image(path, (0, 0, 255))
    store = ImageStore(tmp_path, size=32)
    encoder = vision_encoder("tiny", freeze=True)
    cache = FeatureCache(tmp_path / "cache", encoder.identity, store.transform_id)
    assert cache.fill([path], encoder, store) == 1
    assert cache.fill([path], encoder, store) == 0  # hit
    cached = cache.get(path)
    with torch.no_grad():
        direct = encoder(store.load(path)[0].unsqueeze(0))
    assert torch.allclose(cached["grid"], direct["grid"][0], atol=1e-6)
    _image(path, (0, 255, 0))
    os.utime(path, ns=(1, 1))
    assert cache.fill([path], encoder, store) == 1  # file changed: recomputed
    other = FeatureCache(tmp_path / "cache", encoder.identity, "another transform")
    assert other.fill([path], encoder, store) == 1  # transform changed: recomputed
