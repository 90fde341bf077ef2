"""MVSA as the field uses it: CLMLF's public JSON splits (dataset.layout=clmlf)."""

from __future__ import annotations

import json

import pytest

from fusionlab.data.errors import DataFormatError
from fusionlab.data.readers.clmlf import ClmlfReader
from fusionlab.train import assemble
from tests.conftest import compose_config
from tests.fixtures import write_dataset


def test_clmlf_records_become_posts_with_their_image_and_label(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(json.dumps([{"id": "17", "text": "so happy today", "emotion_label": 0},
                                {"id": 4221, "text": "meh", "emotion_label": 1},
                                {"id": "9", "text": "awful traffic", "emotion_label": 2}], indent=1))
    examples = ClmlfReader()(path).examples
    assert [(e.words, e.image, e.label) for e in examples] == [
        (["so", "happy", "today"], "17.jpg", "positive"), (["meh"], "4221.jpg", "neutral"),
        (["awful", "traffic"], "9.jpg", "negative")]
    assert examples[1].source == f"{path}:7"


@pytest.mark.parametrize("record", [{"id": "1", "text": "x", "emotion_label": 3}, {"id": "1", "text": 5, "emotion_label": 0},
                                    {"id": True, "text": "x", "emotion_label": 0}, ["1", "x", 0],
                                    {"id": "1", "text": "  ", "emotion_label": 0}])
def test_a_malformed_clmlf_record_names_its_file_and_line(tmp_path, record):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps([{"id": "2", "text": "fine", "emotion_label": 0}, record], indent=1))
    with pytest.raises(DataFormatError, match=rf"{path}:\d+: expected"):
        ClmlfReader()(path)


@pytest.mark.parametrize("dataset", ["mvsa_single", "mvsa_multiple"])
def test_the_clmlf_layout_reads_the_json_splits_and_the_archive_s_images(tiny_overrides, tmp_path, dataset):
    overrides = [o for o in tiny_overrides if not o.startswith("dataset.")]
    cfg = compose_config(overrides + [f"dataset={dataset}", "dataset.layout=clmlf", "task=msa", "fusion=concat",
                                      f"data_root={tmp_path}/data"])
    assert str(cfg.dataset.tasks.msa.splits.val).endswith(f"{dataset}/dev.json")
    write_dataset(cfg)
    parts = assemble(cfg)
    splits = parts.datamodule.stats["splits"]
    assert all(splits[s]["examples"] == 4 and splits[s]["missing_images"] == 0 for s in ("train", "val", "test"))
    assert sorted(parts.task.data.labels) == ["negative", "neutral", "positive"]
    assert compose_config(overrides + [f"dataset={dataset}"]).dataset.layout == "raw"  # the default is unchanged
