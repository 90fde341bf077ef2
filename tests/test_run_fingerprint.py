"""A run folder is re-used only for the run it holds: the fingerprint in run.json (config, data bytes, code)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from omegaconf import OmegaConf

from fusionlab.run.fingerprint import fingerprint
from fusionlab.train import run
from tests.conftest import compose_config


def test_a_finished_run_is_returned_only_for_the_same_config_and_data_bytes(tmp_path, tiny_overrides):
    common = tiny_overrides + ["fusion=text_only"]
    first = run(compose_config(common))
    shutil.copytree(tmp_path / "cache", tmp_path / "copy")
    elsewhere = [f"cache_root={tmp_path}/copy", f"data_root={tmp_path}/elsewhere"]
    assert run(compose_config(common + elsewhere)) == first  # the same bytes in another place: the same data
    with pytest.raises(FileExistsError, match=r"finished run .*config keys optim.weight_decay \(0.01 -> 0.02\)"):
        run(compose_config(common + ["optim.weight_decay=0.02"]))
    train = tmp_path / "copy" / first["data"]["files"]["train"]["path"].split("/cache/", 1)[1]
    train.write_text(train.read_text() + "\n")
    with pytest.raises(FileExistsError, match="data files train .*another output folder"):
        run(compose_config(common + elsewhere))


def test_a_resume_with_a_changed_config_is_refused_naming_the_key_unless_forced(tmp_path, tiny_overrides):
    common = tiny_overrides + ["fusion=text_only", "trainer.max_epochs=2", "checkpoint_every_n_steps=1"]
    with pytest.raises(RuntimeError, match="interrupted after step 2"):
        run(compose_config(common + ["+callbacks.interrupt={_target_: tests.interrupt.InterruptAt, step: 2}"]))
    changed = common + ["optim.weight_decay=0.02"]
    with pytest.raises(FileExistsError, match=r"config keys optim.weight_decay \(0.01 -> 0.02\).*resume=force"):
        run(compose_config(changed))
    forced = run(compose_config(changed + ["resume=force"]))
    assert forced["run"]["resumed_from"].endswith("last.ckpt") and forced["config"]["optim"]["weight_decay"] == 0.02
    attempts = json.loads((tmp_path / "run" / "run.json").read_text())
    assert [a["config"]["optim"]["weight_decay"] for a in attempts] == [0.01, 0.02]  # every attempt is kept
    assert attempts[0]["fingerprint"]["config"] != attempts[1]["fingerprint"]["config"]
    assert attempts[0]["fingerprint"]["data"] == attempts[1]["fingerprint"]["data"] == {
        split: f["sha256"] for split, f in forced["data"]["files"].items()}


def test_a_resume_whose_run_json_was_lost_is_checked_against_the_fingerprint_in_its_checkpoint(tmp_path, tiny_overrides):
    common = tiny_overrides + ["fusion=text_only", "trainer.max_epochs=2", "checkpoint_every_n_steps=1"]
    with pytest.raises(RuntimeError, match="interrupted after step 2"):
        run(compose_config(common + ["+callbacks.interrupt={_target_: tests.interrupt.InterruptAt, step: 2}"]))
    stored = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["fusionlab"]["fingerprint"]
    assert stored["config"] and set(stored["data"]) == {"train", "val", "test"}
    (tmp_path / "run" / "run.json").unlink()  # the attempts' record is lost: the checkpoint still names its run
    with pytest.raises(FileExistsError, match=r"config keys optim.weight_decay \(0.01 -> 0.02\).*resume=force"):
        run(compose_config(common + ["optim.weight_decay=0.02"]))


@pytest.mark.parametrize("override, changes_the_run", [
    ("performance.matmul_precision=medium", True),  # bf16 matrix products, on CPU too: other arithmetic
    ("trainer.precision=bf16-mixed", True),
    ("performance.compile=true", False),  # speed settings computing the same values
    ("encoder.text.pack_tokens=false", False),
    ("performance.retain_freed_memory=false", False),
    ("performance.random_bits_dropout=false", False),  # other dropout draws, as packing gives: not another run
])
def test_settings_that_change_the_arithmetic_change_the_fingerprint_and_speed_settings_do_not(override, changes_the_run):
    configs = [OmegaConf.to_container(compose_config(["output_dir=/tmp/x", *extra]), resolve=True)
               for extra in ([], [override])]
    prints = [fingerprint(config, None, {"commit": "same"})["config"] for config in configs]
    assert (prints[0] != prints[1]) is changes_the_run
