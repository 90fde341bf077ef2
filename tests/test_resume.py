"""An interrupted run resumes mid-epoch from checkpoints/last.ckpt and ends as if never interrupted."""

from __future__ import annotations

import pytest
import torch

from fusionlab.train import run
from tests.conftest import compose_config


def test_an_interrupted_run_resumes_to_the_same_result(tiny_overrides, tmp_path):
    # 48 training samples in batches of 16: 3 steps per epoch; the interruption comes after step 5,
    # the last checkpoint is from step 4 (epoch 1, one batch in)
    common = tiny_overrides + ["fusion=concat", "trainer.max_epochs=3", "checkpoint_every_n_steps=1"]
    full = run(compose_config(common + [f"output_dir={tmp_path}/full"]))
    with pytest.raises(RuntimeError, match="interrupted after step 5"):
        run(compose_config(common + [f"output_dir={tmp_path}/cut",
                                     "callbacks=[{_target_: tests.interrupt.InterruptAt, step: 5}]"]))
    assert torch.load(tmp_path / "cut" / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 4
    resumed = run(compose_config(common + [f"output_dir={tmp_path}/cut", "resume=true"]))
    assert resumed["best_epoch"] == full["best_epoch"] and len(resumed["timing"]["train_seconds_per_epoch"]) == 3
    assert resumed["metrics"]["val"] == pytest.approx(full["metrics"]["val"], abs=1e-6)
    assert resumed["metrics"]["test"] == pytest.approx(full["metrics"]["test"], abs=1e-6)
    weights = [torch.load(tmp_path / run_dir / "checkpoints" / "best.ckpt", weights_only=False)["state_dict"]
               for run_dir in ("full", "cut")]
    assert not (tmp_path / "cut" / "checkpoints" / "last.ckpt").exists()  # a finished run keeps no resume point
    assert all(torch.allclose(weights[0][k].float(), weights[1][k].float(), atol=1e-6) for k in weights[0])


def test_resume_without_a_checkpoint_says_where_it_looked(tiny_overrides, tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*last.ckpt"):
        run(compose_config(tiny_overrides + ["fusion=text_only", "resume=true"]))
