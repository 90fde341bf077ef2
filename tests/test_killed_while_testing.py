"""A run stopped while testing, its training done, ends on re-running as an uninterrupted run: its record
keeps every validation (Lightning skips ``on_train_start`` when the resumed training is already done)."""

from __future__ import annotations

import math

import pytest

from fusionlab.train import run
from tests.conftest import compose_config


def test_a_run_stopped_while_testing_records_what_an_uninterrupted_run_records(tiny_overrides, tmp_path):
    common = tiny_overrides + ["fusion=text_only", "trainer.max_epochs=2"]
    full = run(compose_config(common + [f"output_dir={tmp_path}/full"]))
    with pytest.raises(RuntimeError, match="interrupted while testing"):
        run(compose_config(common + [f"output_dir={tmp_path}/cut",
                                     "+callbacks.interrupt={_target_: tests.interrupt.FailOnTest}"]))
    assert (tmp_path / "cut" / "checkpoints" / "last.ckpt").exists()
    resumed = run(compose_config(common + [f"output_dir={tmp_path}/cut"]))
    assert resumed["run"]["resumed_from"].endswith("last.ckpt")
    assert resumed["val_history"] == full["val_history"] and len(full["val_history"]) == 2
    assert resumed["best_epoch"] == full["best_epoch"] is not None
    assert resumed["metrics"]["val"] == full["metrics"]["val"] and math.isfinite(resumed["metrics"]["val"]["f1"])
    assert resumed["metrics"]["test"] == pytest.approx(full["metrics"]["test"], abs=1e-6)
    assert resumed["timing"]["train_seconds_per_epoch"] and len(resumed["timing"]["train_seconds_per_epoch"]) == 2
