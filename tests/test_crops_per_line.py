"""HVPNeT's MNRE crop mappings are per line: lines that share an image get each their own crops (pixels and
cached features alike), the robustness protocol moves a sentence's crops with its image, and absent crops are
masked, counted and warned with their folder."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from fusionlab.data.example import Example
from fusionlab.data.splits import SPLITS, perturb_images
from fusionlab.train import assemble
from tests.conftest import compose_config
from tests.fixtures import write_dataset, write_image

CROPS = 2  # per line, of max_aux 3


def _mnre(tiny_overrides: list[str], tmp_path, *extra: str):
    overrides = [o for o in tiny_overrides if not o.startswith("dataset.")]
    return compose_config(overrides + [f"data_root={tmp_path}/release", "dataset=mnre", "task=mre", "fusion=hvpnet",
                                       *extra])


def _crops_per_line(cfg) -> dict[str, list[list[Path]]]:
    """The fixture's MNRE release with every line's own crops (the fixture's lines come in pairs sharing an
    image); returns each split's crop files, line by line."""
    write_dataset(cfg)
    crops = {}
    for s, split in enumerate(SPLITS):
        lines = Path(cfg.dataset.tasks.mre.splits[split]).read_text().splitlines()
        folder = Path(cfg.dataset.aux_image_dir[split])
        crops[split] = [[folder / f"line{i}_crop{k}.png" for k in range(CROPS)] for i in range(len(lines))]
        for i, paths in enumerate(crops[split]):
            for k, path in enumerate(paths):
                write_image(path, 50 * s + 5 * i + k, size=16)
        torch.save({i: [p.name for p in paths] for i, paths in enumerate(crops[split])}, cfg.dataset.aux_mapping[split])
    return crops


def test_lines_sharing_an_image_get_their_own_crops(tiny_overrides, tmp_path):
    cfg = _mnre(tiny_overrides, tmp_path, "encoder.vision.freeze=false")
    crops = _crops_per_line(cfg)
    datamodule = assemble(cfg).datamodule
    assert datamodule.image_mode == "pixels"
    for split in SPLITS:
        dataset, store = datamodule.splits[split], datamodule.stores[split]
        assert dataset.examples[0].image == dataset.examples[1].image  # two lines, one image
        for line, example in enumerate(dataset.examples):
            item = dataset[line]
            assert item["aux_mask"] == [True] * CROPS + [False]
            for got, path in zip(item["aux"], crops[split][line]):
                assert torch.equal(got, store.load(path)[0]), (split, line, path.name)
        assert not torch.equal(dataset[0]["aux"][0], dataset[1]["aux"][0])
        assert datamodule.stats["splits"][split]["missing_aux"] == 0


def test_the_feature_cache_keeps_the_crops_of_lines_sharing_an_image_apart(tiny_overrides, tmp_path):
    cfg = _mnre(tiny_overrides, tmp_path, "encoder.vision.freeze=true")
    crops = _crops_per_line(cfg)
    datamodule = assemble(cfg).datamodule
    assert datamodule.image_mode == "features"
    files = sum(len({e.image for e in datamodule.splits[s].examples}) + CROPS * len(crops[s]) for s in SPLITS)
    assert datamodule.stats["feature_cache"] == {"computed": files, "images": files}
    for split in SPLITS:
        dataset, store = datamodule.splits[split], datamodule.stores[split]
        for line in range(len(dataset)):
            aux = dataset[line]["aux"]
            for got, path in zip(aux, crops[split][line]):
                with torch.no_grad():
                    direct = datamodule.vision(store.load(path)[0].unsqueeze(0))
                for key, value in got.items():
                    assert torch.allclose(value, direct[key][0], atol=1e-6), (split, line, path.name, key)
        assert not torch.equal(dataset[0]["aux"][0]["grid"], dataset[1]["aux"][0]["grid"])


def test_shuffled_test_images_bring_their_own_sentence_s_crops():
    examples = [Example([f"w{i}"], f"{i // 2}.jpg", crop_key=str(i)) for i in range(8)]
    shuffled = perturb_images(examples, "shuffled", seed=3)
    assert all(s.crop_key != e.crop_key for s, e in zip(shuffled, examples))
    assert sorted((s.image, s.crop_key) for s in shuffled) == sorted((e.image, e.crop_key) for e in examples)
    assert [s.words for s in shuffled] == [e.words for e in examples]


def test_an_absent_crop_is_masked_counted_and_warned_once_with_its_folder(tiny_overrides, tmp_path, caplog):
    cfg = _mnre(tiny_overrides, tmp_path)
    gone = _crops_per_line(cfg)["val"][3][1]
    gone.unlink()
    datamodule = assemble(cfg).datamodule
    assert [datamodule.stats["splits"][s]["missing_aux"] for s in SPLITS] == [0, 1, 0]
    assert datamodule.splits["val"][3]["aux_mask"] == [True, False, False]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "crop" in r.getMessage()]
    assert warned == [f"mnre val: 1 of the {2 * 8} crops the mapping names are missing in {gone.parent} (e.g. "
                      f"{gone.name}); their slots are masked (missing-image policy)"]


def test_a_mapping_keyed_otherwise_than_dataset_aux_key_is_named_in_a_warning(tiny_overrides, tmp_path, caplog):
    cfg = _mnre(tiny_overrides, tmp_path, "dataset.aux_key=image")
    _crops_per_line(cfg)
    stats = assemble(cfg).datamodule.stats
    assert stats["no_crops_found"]
    for s, split in enumerate(SPLITS):  # the fixture's first image of a split: 1000.jpg, 2000.jpg, 3000.jpg
        assert f"mnre {split}: crop mapping {cfg.dataset.aux_mapping[split]} lists none of the split's keys " \
               f"(dataset.aux_key=image, e.g. '{1000 * (s + 1)}.jpg'; the mapping's keys look like '0')" in caplog.text


def test_an_unknown_aux_key_is_refused_naming_the_key(tiny_overrides, tmp_path):
    cfg = _mnre(tiny_overrides, tmp_path, "dataset.aux_key=sentence")
    write_dataset(cfg)
    with pytest.raises(ValueError, match=r"dataset.aux_key must be one of \('image', 'line'\), not 'sentence'"):
        assemble(cfg)
