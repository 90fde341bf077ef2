"""The real-sentence benchmark: its batches keep their sentences and padding with every image present, it says
when the data is absent, and its table reads as docs/benchmarks.md shows it."""

from __future__ import annotations

import torch

from benchmarks import real_sentences
from benchmarks.real_sentences import markdown, with_present_images


def test_images_become_random_and_present_while_the_text_stays_as_it_was():
    batch = {"input_ids": torch.tensor([[101, 7, 102, 0]]), "attention_mask": torch.tensor([[1, 1, 1, 0]]),
             "image": torch.zeros(1, 3, 4, 4), "image_mask": torch.tensor([False]),
             "aux": {"pyramid_0": torch.zeros(1, 2, 8, 2, 2)}, "aux_mask": torch.tensor([[False, True]]),
             "word_index": torch.tensor([[1, 0]]), "word_mask": torch.tensor([[True, False]]), "examples": ["kept"]}
    changed = with_present_images(batch, torch.Generator().manual_seed(0))
    for key in ("input_ids", "attention_mask", "word_index", "word_mask", "examples"):
        assert changed[key] is batch[key], key
    assert changed["image_mask"].all() and changed["aux_mask"].all()
    for image, before in ((changed["image"], batch["image"]), (changed["aux"]["pyramid_0"], batch["aux"]["pyramid_0"])):
        assert image.shape == before.shape and image.std() > 0.5


def test_without_the_data_nothing_is_measured_and_the_table_says_why(monkeypatch, tmp_path):
    monkeypatch.setenv("FUSIONLAB_DATA", str(tmp_path))
    monkeypatch.setattr(real_sentences, "__file__", str(tmp_path / "benchmarks" / "real_sentences.py"))
    result = real_sentences.main()
    assert "skipped" in result
    assert markdown(result)[0].startswith("Not measured: no twitter2015/train.txt")


def test_the_table_shows_the_share_of_real_tokens_and_the_speed_ups():
    result = {"dataset": "twitter2015", "methods": [{
        "fusion": "hvpnet", "config": "experiment=hvpnet_twitter2015", "batches": 3, "real_tokens": 740,
        "padded_tokens": 1000, "step_seconds": [2.0, 2.2, 2.1], "before_seconds": [2.9, 3.0, 3.1], "speedup": 1.4,
        "bf16_seconds": [1.0, 1.1, 1.2], "bf16_speedup": 1.91}]}
    row = next(line for line in markdown(result)[0].splitlines() if line.startswith("| hvpnet"))
    assert [cell.strip() for cell in row.strip("|").split("|")] == [
        "hvpnet", "experiment=hvpnet_twitter2015", "3", "74%", "2.1", "3", "1.40x", "1.1", "1.91x"]
