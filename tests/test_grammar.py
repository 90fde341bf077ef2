"""lightning-hydra-template's grammar: ``experiment=`` (and ``hparams_search=``: tests/test_config.py) without ``+``, the ``debug``
group, ``tags``, several loggers at once, ``ckpt_path``, and a key nothing reads refused at composition."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException

from fusionlab import CONF
from fusionlab.config.checks import check_settings, resume_choice
from fusionlab.config.result_keys import neutral_keys
from fusionlab.config.unread_keys import refuse_unread_keys
from fusionlab.train import run
from tests.conftest import compose_config

EXPERIMENTS = sorted(p.stem for p in (Path(CONF) / "experiment").glob("*.yaml"))
DEBUG = {  # what each debug option asks of Lightning
    "fdr": {"fast_dev_run": True},
    "limit": {"max_epochs": 3, "limit_train_batches": 3, "limit_val_batches": 3, "limit_test_batches": 3},
    "overfit": {"max_epochs": 20, "overfit_batches": 3},
    "profile": {"max_epochs": 1}}


@pytest.mark.parametrize("option", sorted(DEBUG))
def test_each_debug_option_sets_lightning_s_flags_and_lands_in_outputs_debug(option):
    cfg = compose_config([f"debug={option}", "output_dir=/tmp/x"])
    assert {key: cfg.trainer[key] for key in DEBUG[option]} == DEBUG[option]
    assert cfg.debug_mode == option and cfg.runs_root == "outputs/debug"
    refuse_unread_keys(cfg)
    if option == "profile":
        assert cfg.trainer.profiler._target_.endswith("SimpleProfiler") and cfg.trainer.profiler.dirpath == "/tmp/x"


def test_the_groups_are_chosen_without_a_plus_and_refused_with_one():
    assert compose_config(["experiment=hvpnet_twitter2015", "output_dir=/tmp/x"]).dataset.name == "twitter2015"
    for added in ("+debug=fdr", "+experiment=hvpnet_twitter2015"):
        with pytest.raises(ConfigCompositionException, match="Multiple values"):
            compose_config([added, "output_dir=/tmp/x"])


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_no_paper_experiment_sets_a_key_nothing_reads(experiment):
    refuse_unread_keys(compose_config([f"experiment={experiment}", "output_dir=/tmp/x"]))


@pytest.mark.parametrize("override, message", [
    ("+optim.lrr=0.5", "optim.lrr: nothing reads this key; did you mean optim.lr?"),
    ("+trainer.max_epoch=3", "trainer.max_epoch: nothing reads this key; did you mean trainer.max_epochs?"),
    ("+data.batchsize=8", "data.batchsize: nothing reads this key; did you mean data.batch_size?"),
    ("+sed=3", "sed: nothing reads this key; did you mean seed?"),
    ("+encoder.text.layer=2", "encoder.text.layer: nothing reads this key; did you mean encoder.text.layers?"),
    ("+callbacks.stop={_target_: lightning.pytorch.callbacks.EarlyStopping, monitr: val/f1}",
     "callbacks.stop.monitr: nothing reads this key; did you mean callbacks.stop.monitor?"),
])
def test_a_key_nothing_reads_is_refused_naming_the_closest(override, message):
    cfg = compose_config([override, "output_dir=/tmp/x"])
    with pytest.raises(ValueError) as error:
        check_settings(cfg)
    assert str(error.value).startswith(message)


def test_keys_that_are_read_pass_also_when_added():
    check_settings(compose_config(["+callbacks.stop={_target_: lightning.pytorch.callbacks.EarlyStopping, "
                                   "monitor: val/f1, mode: max}", "+trainer.deterministic=true", "output_dir=/tmp/x"]))


def test_ckpt_path_is_resume_s_other_spelling(tmp_path):
    checkpoint = tmp_path / "some.ckpt"
    checkpoint.write_bytes(b"")
    plain = compose_config(["output_dir=/tmp/x"])
    aliased = compose_config([f"ckpt_path={checkpoint}", "output_dir=/tmp/x"])
    check_settings(aliased)
    assert resume_choice(plain) == "auto" and resume_choice(aliased) == str(checkpoint)
    with pytest.raises(ValueError, match="give one of the two"):
        check_settings(compose_config([f"ckpt_path={checkpoint}", "resume=false", "output_dir=/tmp/x"]))
    with pytest.raises(ValueError, match="no such checkpoint file"):
        check_settings(compose_config([f"ckpt_path={tmp_path}/none.ckpt", "output_dir=/tmp/x"]))


def test_tags_and_ckpt_path_are_not_part_of_a_run_s_name_or_fingerprint_and_debug_is():
    """Neither tags nor ckpt_path changes a result: the same command with them finds the same run folder;
    a debug option does change it (its name: ``debug=fdr``; its fingerprint: the trainer keys it sets). The new
    keys being neutral, runs trained before them keep their fingerprint."""
    neutral = neutral_keys()  # left out of a run's folder name (override_dirname) and of its fingerprint
    assert {"tags", "ckpt_path", "runs_root", "debug_mode"} <= set(neutral) and "debug" not in neutral
    assert "trainer.fast_dev_run" not in neutral and "trainer" not in neutral


def test_tags_reach_results_and_loggers_combine(tiny_overrides, tmp_path):
    overrides = [o for o in tiny_overrides if not o.startswith("logger=")]
    results = run(compose_config(overrides + ["fusion=concat", "tags=[ablation,table3]", "logger=[csv,tensorboard]"]))
    assert results["tags"] == ["ablation", "table3"]
    assert json.loads((tmp_path / "run" / "results.json").read_text())["tags"] == ["ablation", "table3"]
    assert (tmp_path / "run" / "csv" / "version_0" / "metrics.csv").is_file()
    assert list((tmp_path / "run" / "tensorboard" / "version_0").glob("events.out.tfevents.*"))
