"""HVPNeT's real release files (../shared/data/hvpnet_release; skipped where it is absent): the crop mappings load
as plain data and are keyed as released, and the data check on MNRE counts crop slots per line and masks, counts
and warns about the thousands of absent images and crops."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from hydra.utils import instantiate

import fusionlab.schema  # noqa: F401  (registers the fusion schemas that compose_config needs)
from fusionlab.data.images import load_aux_mapping
from fusionlab.data.splits import SPLITS, key_crops
from tests.conftest import compose_config, shared_file


@pytest.mark.parametrize("dataset, task, sentences, keys", [
    ("twitter2015", "mner", (4000, 1000, 3257), (4000, 999, 3257)),  # keyed by "<IMGID>.jpg"; val lacks one
    ("mnre", "mre", (12247, 1624, 1614), (12247, 1624, 1614)),  # keyed by line index; val's file says "dev"
])
def test_every_released_crop_mapping_loads_with_weights_only_and_keys_the_sentences_as_released(
        dataset, task, sentences, keys, tmp_path):
    cfg = compose_config([f"data_root={shared_file('hvpnet_release')}", f"dataset={dataset}", f"task={task}",
                          f"output_dir={tmp_path}"])
    for split, n_sentences, n_keys in zip(SPLITS, sentences, keys):
        path = cfg.dataset.aux_mapping[split]
        released = torch.load(path, weights_only=True)
        assert isinstance(released, dict) and len(released) == n_keys, path
        assert all(isinstance(crops, list) and all(isinstance(c, str) for c in crops) for crops in released.values())
        examples = instantiate(cfg.dataset.tasks[task].reader)(cfg.dataset.tasks[task].splits[split]).examples
        assert len(examples) == n_sentences
        key_crops(examples, cfg.dataset.aux_key)
        ours = {e.image if e.crop_key is None else e.crop_key for e in examples}
        if dataset == "mnre":
            assert path.endswith(f"RE_data/txt/mre_{'dev' if split == 'val' else split}_dict.pth")
            assert sorted(released) == list(range(n_sentences))  # int keys: every line, by its 0-based index
            assert set(load_aux_mapping(path)) == ours
        else:
            assert all(isinstance(k, str) and k.endswith(".jpg") for k in released)
            assert set(load_aux_mapping(path)) <= ours and len(ours - set(released)) == n_sentences - n_keys


def test_the_check_on_hvpnets_release_counts_mnre_crop_slots_per_line(tmp_path):
    release = shared_file("hvpnet_release")
    done = subprocess.run([sys.executable, "-m", "fusionlab.check", "dataset=mnre", "task=mre", "fusion=hvpnet",
                           "encoder=tiny"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "FUSIONLAB_DATA": str(release), "HF_HUB_OFFLINE": "1",
                               "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-4000:]
    for row in ("examples | 12247 | 1624 | 1614", "missing_images | 12242 | 1617 | 1609",
                "images_found | 5 | 7 | 5", "missing_aux | 28899 | 3843 | 3836", "aux_slots_empty | 7827 | 1017 | 988",
                "crops_found | 15 | 12 | 18", "aux_mapping_entries | 12247 | 1624 | 1614"):
        assert f"| {row} |" in done.stdout, row
    assert "unreadable image files: 0" in done.stdout and "no_images_found" not in done.stdout
    for split, examples, images, crops, named in (("train", 12247, 12242, 28899, 28914),
                                                  ("val", 1624, 1617, 3843, 3855), ("test", 1614, 1609, 3836, 3854)):
        image_dir, crop_dir = release / "RE_data" / "img_org" / split, release / "RE_data" / "img_vg" / split / "crops"
        assert done.stderr.count(f"missing in {image_dir} ") == 1 and done.stderr.count(f"missing in {crop_dir} ") == 1
        assert f"mnre {split}: {images} of {examples} images missing in {image_dir} (e.g. " in done.stderr
        assert f"mnre {split}: {crops} of the {named} crops the mapping names are missing in {crop_dir} (e.g. " \
               in done.stderr
    assert list(tmp_path.iterdir()) == []  # the check writes nothing
