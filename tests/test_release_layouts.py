"""The real benchmarks as their authors released them: HVPNeT's folder layout, crop mappings keyed as
released, text without images, and the data check."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusionlab.check import check, render
from fusionlab.train import assemble, run
from tests.conftest import compose_config, shared_file
from tests.fixtures import CROPS, write_dataset


def _overrides(tiny_overrides: list[str], tmp_path) -> list[str]:
    return [o for o in tiny_overrides if not o.startswith("dataset.")] + [f"data_root={tmp_path}/release"]


@pytest.mark.parametrize("dataset, task", [("twitter2015", "mner"), ("twitter2017", "mner"), ("mnre", "mre"),
                                           ("mnre", "joint")])
def test_hvpnets_release_layout_loads_with_nothing_missing_and_hvpnet_gets_unmasked_crops(
        tiny_overrides, tmp_path, dataset, task):
    cfg = compose_config(_overrides(tiny_overrides, tmp_path) + [f"dataset={dataset}", f"task={task}", "fusion=hvpnet"])
    train_file = str(cfg.dataset.tasks[task].splits.train)
    assert cfg.dataset.layout == "hvpnet" and ("/RE_data/txt/ours_" in train_file or "/NER_data/" in train_file)
    write_dataset(cfg)
    parts = assemble(cfg)
    for split, counts in parts.datamodule.stats["splits"].items():
        assert counts["missing_images"] == 0 and counts["missing_aux"] == 0, split
        assert counts["aux_slots_empty"] == (cfg.data.max_aux - CROPS) * counts["examples"], split
    batch = next(iter(parts.datamodule.train_dataloader()))
    assert batch["aux_mask"].sum(1).tolist() == [CROPS] * len(batch["examples"])  # each image's crops, unmasked
    assert batch["image_mask"].all()
    if dataset == "mnre":  # the released relation vocabulary (ours_rel2id.json), not one fitted on train
        relations = parts.task.data.relations
        assert "/loc/loc/contain" in relations and ("None" in relations) == (task == "mre")


def test_mnre_crops_are_looked_up_by_line_so_a_mapping_keyed_by_image_finds_nothing(tiny_overrides, tmp_path, caplog):
    overrides = _overrides(tiny_overrides, tmp_path) + ["dataset=mnre", "task=mre", "fusion=hvpnet"]
    write_dataset(compose_config(overrides))  # MNRE's mappings keyed by line, as released
    stats = assemble(compose_config(overrides + ["dataset.aux_key=image"])).datamodule.stats
    assert stats["no_crops_found"] and "NO OBJECT CROP FOUND" in caplog.text


def test_text_only_on_real_text_needs_no_images_nor_crop_mappings(tiny_overrides, tmp_path):
    data = shared_file("twitter2015", "train.txt").parents[1]
    overrides = [o for o in tiny_overrides if not o.startswith("dataset.")]
    parts = assemble(compose_config(overrides + [f"data_root={data}", "dataset=twitter2015", "dataset.layout=flat",
                                                 "fusion=text_only"]))
    splits = parts.datamodule.stats["splits"]
    assert [splits[s]["examples"] for s in ("train", "val", "test")] == [4000, 1000, 3257]
    assert "missing_images" not in splits["train"] and "aux_mapping_missing" not in parts.datamodule.stats


def test_an_image_method_without_images_is_flagged_as_effectively_text_only(tiny_overrides, tmp_path, caplog):
    cfg = compose_config(_overrides(tiny_overrides, tmp_path) + ["dataset=twitter2015", "fusion=hvpnet",
                                                                "trainer.max_epochs=1"])
    write_dataset(cfg)
    for folder in (cfg.dataset.image_dir, *cfg.dataset.aux_image_dir.values()):
        for image in Path(folder).iterdir():
            image.unlink()
    results = run(cfg)
    assert results["data"]["no_images_found"] and results["data"]["no_crops_found"]
    assert "NO IMAGE FOUND in any split" in caplog.text


def test_the_data_check_reports_each_split_without_training(tiny_overrides, tmp_path):
    cfg = compose_config(_overrides(tiny_overrides, tmp_path) + ["dataset=twitter2015", "fusion=hvpnet",
                                                                "data.max_length=8"])
    write_dataset(cfg)
    report = check(cfg)
    train = report["splits"]["train"]
    assert train["examples"] == 4 and train["entities"] == 8 and train["missing_images"] == 0
    assert train["missing_aux"] == 0 and train["aux_image_dir"].endswith("twitter2015_aux_images/train/crops")
    assert train["truncated"] > 0  # max_length 8 cuts the longer tweets
    assert report["shared_sentences"] == {"train&val": 4, "train&test": 4, "val&test": 4}  # the fixture repeats
    table = render(report)
    assert "| missing_images | 0 | 0 | 0 |" in table and "sentences shared across splits" in table
    assert not (tmp_path / "run").exists()
