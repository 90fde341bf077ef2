"""Every paper experiment (conf/experiment/*.yaml) runs end to end: tiny encoders, fast_dev_run, tiny fixtures.

Command-line group overrides (``encoder=tiny trainer=cpu``) beat an experiment's ``override /encoder: paper``
and ``override /trainer: gpu``; values an experiment sets itself (MuSE's ``encoder.vision.name: resnet152``)
beat any group, so the encoder names are overridden as values too.
"""

from __future__ import annotations

import json
import math

import pytest
from omegaconf import OmegaConf

from fusionlab.config.checks import method_declaration
from fusionlab.train import run
from tests.conftest import CONF, compose_config
from tests.fixtures import CROPS, write_dataset

EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
GROUPS = ("fusion", "task", "dataset")
MAIN_METRIC = {"mner": "f1", "mre": "f1", "joint": "f1", "msa": "accuracy"}
TINY = ["encoder=tiny", "encoder.text.name=tiny", "encoder.vision.name=tiny", "encoder.proxy.name=tiny_clip",
        "trainer=cpu"]


def smoke_overrides(experiment: str, tmp_path) -> list[str]:
    return [f"experiment={experiment}", *TINY, "++trainer.fast_dev_run=true", "trainer.enable_progress_bar=false",
            "logger=none", f"data_root={tmp_path}/data", f"output_dir={tmp_path}/run", f"cache_root={tmp_path}/cache",
            "data.batch_size=2", "data.eval_batch_size=4", "data.num_workers=0"]


def chosen(experiment: str, group: str) -> str:
    """The option the experiment file picks for ``group`` (its ``override /<group>: ...``), or the experiment
    it builds on picks (a plain entry of its defaults list)."""
    defaults = OmegaConf.load(CONF / "experiment" / f"{experiment}.yaml").defaults
    picked = [entry[f"override /{group}"] for entry in defaults if f"override /{group}" in entry]
    parents = [entry for entry in defaults if isinstance(entry, str) and entry != "_self_"]
    return picked[0] if picked else chosen(parents[0], group)


def needs(cfg) -> dict:
    """What the experiment's method loads: image_mode (none | pixels | features) and load_aux (crops)."""
    return method_declaration(cfg)["needs"]


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_command_line_groups_beat_the_experiment_s_paper_encoders_and_gpu_trainer(experiment):
    cfg = compose_config([f"experiment={experiment}", *TINY, "output_dir=/tmp/x"])
    assert {cfg.encoder.text.name, cfg.encoder.vision.name} == {"tiny"} and cfg.encoder.proxy.name == "tiny_clip"
    assert cfg.trainer.accelerator == "cpu" and cfg.trainer.precision == "32-true"
    expected = tuple(chosen(experiment, group) for group in GROUPS)
    assert (cfg.fusion.name, cfg.task.name, cfg.dataset.name) == expected  # the experiment's own choices stay


def test_the_group_alone_does_not_undo_a_value_the_experiment_sets():
    """Why TINY names the encoders as values too: ``encoder=tiny`` swaps the group, but MuSE's own
    ``encoder.vision.name: resnet152`` is applied after it."""
    cfg = compose_config(["experiment=muse_mvsa_single", "encoder=tiny", "output_dir=/tmp/x"])
    assert cfg.encoder.text.name == "tiny" and cfg.encoder.vision.name == "resnet152"


def test_crop_methods_are_given_a_crop_mapping():
    """HVPNeT (and PMEI on its prefix) reads m object crops per image: the dataset must say which. (One test
    composing each experiment, not one per experiment: composing them all to choose the parameters would cost
    every pytest process that collects this file.)"""
    configs = {e: compose_config([f"experiment={e}", "output_dir=/tmp/x"]) for e in EXPERIMENTS}
    reading_crops = [e for e, cfg in configs.items() if needs(cfg)["load_aux"]]
    assert {"hvpnet_twitter2015", "hvpnet_mnre"} <= set(reading_crops)
    for experiment in reading_crops:
        cfg = configs[experiment]
        assert cfg.dataset.aux_image_dir and cfg.dataset.aux_mapping, \
            f"{experiment}: a method that reads crops but no crop mapping (dataset.aux_mapping)"


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_runs_end_to_end(tmp_path, experiment):
    cfg = compose_config(smoke_overrides(experiment, tmp_path))
    written = write_dataset(cfg)
    run(cfg)

    found = list((tmp_path / "run").rglob("results.json"))
    assert len(found) == 1, f"expected one results.json under {tmp_path / 'run'}, found {found}"
    saved = json.loads(found[0].read_text())
    assert (saved["fusion"], saved["task"], saved["dataset"]) == tuple(chosen(experiment, g) for g in GROUPS)
    assert saved["encoders"]["text"] == "tiny"

    test = saved["metrics"]["test"]
    assert MAIN_METRIC[saved["task"]] in test
    assert all(isinstance(v, float) and math.isfinite(v) for v in test.values()), test
    scores = {k: v for k, v in test.items() if not k.endswith("loss")}  # losses are finite, not bounded
    assert scores and all(0.0 <= v <= 1.0 for v in scores.values()), scores

    splits = saved["data"]["splits"]
    assert splits["test"]["examples"] > 0
    if needs(cfg)["image_mode"] != "none":
        assert written["images"] > 0
        assert all(splits[s]["missing_images"] == 0 for s in ("train", "val", "test")), splits
        if needs(cfg)["load_aux"] and written["crops"]:  # every crop is found through the mapping
            empty = cfg.data.max_aux - CROPS  # slots per image the fixture's crops leave empty
            assert all(splits[s]["missing_aux"] == 0 and splits[s]["aux_slots_empty"] == empty * splits[s]["examples"]
                       for s in ("train", "val", "test")), splits
    else:
        assert "missing_images" not in splits["test"]
