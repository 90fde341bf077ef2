"""The optimiser and trainer as each paper and its reference run them: the schedule, frozen heads, gradient
clipping and the searched rates."""

from __future__ import annotations

from types import SimpleNamespace
from unittest.mock import patch

import pytest
import torch
from hydra import compose, initialize_config_dir

from fusionlab.config.checks import check_settings
from fusionlab.model import FusionModel
from fusionlab.tasks.head import TaskHead
from fusionlab.train import assemble
from tests.conftest import CONF, compose_config

EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


def rates_over_steps(model: FusionModel, steps: int = 10) -> list[float]:
    """The first group's learning rate at each step of a ``steps``-step run, as the scheduler sets it."""
    with patch.object(FusionModel, "trainer", SimpleNamespace(estimated_stepping_batches=steps, precision="32-true")):
        configured = model.configure_optimizers()
    optimizer, scheduler = configured["optimizer"], configured["lr_scheduler"]["scheduler"]
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


@pytest.mark.parametrize("schedule", ["linear", "constant"])
def test_the_schedule_decays_linearly_or_keeps_the_rate_after_the_warm_up(tiny_overrides, schedule):
    cfg = compose_config(tiny_overrides + ["fusion=text_only", f"optim.schedule={schedule}", "optim.warmup_ratio=0.2"])
    rates = rates_over_steps(assemble(cfg).model)
    peak = cfg.optim.encoder_lr
    assert rates[:3] == pytest.approx([0.0, peak / 2, peak])  # warm-up: 2 of 10 steps
    expected = [peak * (10 - s) / 8 for s in range(2, 10)] if schedule == "linear" else [peak] * 8
    assert rates[2:] == pytest.approx(expected)


def test_an_unknown_schedule_is_refused(tiny_overrides):
    with pytest.raises(ValueError, match=r"optim.schedule=cosine: expected one of \('linear', 'constant'\)"):
        check_settings(compose_config(tiny_overrides + ["optim.schedule=cosine"]))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_each_paper_config_runs_its_reference_s_schedule_and_clipping(experiment):
    cfg = compose_config([f"experiment={experiment}", "output_dir=/tmp/x"])
    constant = experiment.startswith(("pmei", "mase")) and experiment != "pmei_webnlg_star_cpu"
    assert cfg.optim.schedule == ("constant" if constant else "linear")
    if experiment.startswith("hvpnet"):
        assert cfg.trainer.gradient_clip_val is None  # the reference never clips


@pytest.mark.parametrize("head_lr", [0.0, 1e-2])
def test_head_lr_0_keeps_the_heads_at_their_initialisation_and_a_positive_one_trains_them(tiny_overrides, head_lr):
    cfg = compose_config(tiny_overrides + ["fusion=text_only", "task=mre", f"optim.head_lr={head_lr}", "optim.warmup_ratio=0"])
    check_settings(cfg)  # 0 is a setting, not an error
    parts = assemble(cfg)
    model = parts.model
    heads = [p for m in model.modules() if isinstance(m, TaskHead) for p in m.parameters()]
    before = [p.detach().clone() for p in heads]
    with patch.object(FusionModel, "trainer", SimpleNamespace(estimated_stepping_batches=10, precision="32-true")):
        optimizer = model.configure_optimizers()["optimizer"]
    grouped = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert all((id(p) in grouped) == (head_lr > 0) for p in heads)
    model.training_step(next(iter(parts.datamodule.train_dataloader())), 0).backward()
    optimizer.step()
    unchanged = [torch.equal(b, p) for b, p in zip(before, heads)]
    assert all(unchanged) if head_lr == 0 else not any(unchanged)


def test_a_negative_head_lr_is_refused(tiny_overrides):
    with pytest.raises(ValueError, match="optim.head_lr=-0.1: must be positive, or 0 to keep the task heads"):
        check_settings(compose_config(tiny_overrides + ["optim.head_lr=-0.1"]))


@pytest.mark.parametrize("search, fusion", [("muse", "muse"), ("hvpnet_mner", "hvpnet")])
def test_a_search_varies_the_one_rate_the_paper_searched(search, fusion):
    """MuSE and HVPNeT search one learning rate for the encoders and the method's layers alike."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"hparams_search={search}", f"fusion={fusion}",
                                                        "optim.lr=5e-5", "output_dir=/tmp/x"], return_hydra_config=True)
    assert cfg.optim.encoder_lr == cfg.optim.lr == 5e-5
    params = cfg.hydra.sweeper.params
    assert "optim.lr" in params and "optim.encoder_lr" not in params
