"""PMEI: the closed-form KL, which early predictions each map reads, when it samples, and that it learns."""

from __future__ import annotations

import pytest
import torch
from torch import distributions, nn

from fusionlab.fusion.pmei.stochastic_map import Gaussian, StochasticMap, gaussian_kl
from fusionlab.train import assemble, run
from tests.conftest import compose_config


def _assembled(overrides):
    parts = assemble(compose_config(overrides))
    return parts.model, next(iter(parts.datamodule.train_dataloader()))


def _without_dropout(model):
    """Training mode (maps sample) with every dropout off, so only the maps can differ between passes."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0  # (attention reads p itself)
    return model


def test_kl_equals_torch_distributions():
    torch.manual_seed(0)
    p = Gaussian(torch.randn(3, 5), torch.rand(3, 5) + 0.1)
    r = Gaussian(torch.randn(3, 5), torch.rand(3, 5) + 0.1)
    expected = distributions.kl_divergence(distributions.Normal(p.mean, p.std), distributions.Normal(r.mean, r.std))
    assert torch.allclose(gaussian_kl(p, r), expected.sum(-1), atol=1e-6)
    assert torch.allclose(gaussian_kl(p, p), torch.zeros(3), atol=1e-6)


def test_a_map_without_evidence_is_pulled_towards_the_standard_normal():
    stochastic_map = StochasticMap(hidden=4, evidence=0).eval()
    h = torch.randn(2, 3, 4)
    prior = stochastic_map.prior(h, h.new_zeros(2, 3, 0))
    assert torch.equal(prior.mean, torch.zeros_like(h)) and torch.equal(prior.std, torch.ones_like(h))


@pytest.mark.parametrize("fusion, interacts", [("pmei", True), ("pmei_wo_interaction", False)])
def test_each_map_reads_the_other_tasks_early_prediction_only_with_interaction(tiny_overrides, fusion, interacts):
    model, batch = _assembled(tiny_overrides + [f"fusion={fusion}", "task=joint"])
    model.eval()
    h = model.shared(batch).states.detach()
    evidence = {k: v.detach().requires_grad_() for k, v in model.early.evidence(h, batch).items()}
    representations, _ = model.task_representations(h, evidence)
    for task, other in (("entity", "relation"), ("relation", "entity")):
        grad, own = torch.autograd.grad(representations[task].sum(), [evidence[other], evidence[task]],
                                        allow_unused=True)
        depends = grad is not None and grad.abs().sum() > 0
        assert depends == interacts, f"t_{task} depends on y'_{other}: {depends}"
        assert own.abs().sum() > 0  # its own early prediction always counts


def test_pmei_samples_in_training_and_is_deterministic_at_inference(tiny_overrides):
    model, batch = _assembled(tiny_overrides + ["fusion=pmei", "task=joint"])
    _without_dropout(model)
    first, second = model.fuse(batch), model.fuse(batch)
    assert not torch.allclose(first.states[0], second.states[0])  # t_e = mu + sigma * eps
    assert {"alpha_l_early", "beta_l_ic_entity", "beta_l_ic_relation"} <= first.losses.keys()
    assert all(torch.isfinite(v) and v >= 0 for v in first.losses.values())
    model.eval()
    with torch.no_grad():
        first, second = model.fuse(batch), model.fuse(batch)
    assert all(torch.equal(a, b) for a, b in zip(first.states, second.states))  # the mean at inference


def test_pmei_wo_sm_is_deterministic_in_training_and_has_no_kl(tiny_overrides):
    model, batch = _assembled(tiny_overrides + ["fusion=pmei_wo_sm", "task=joint"])
    _without_dropout(model)
    first, second = model.fuse(batch), model.fuse(batch)
    assert all(torch.equal(a, b) for a, b in zip(first.states, second.states))
    assert set(first.losses) == {"alpha_l_early"}


def test_mtl_feeds_the_shared_states_straight_to_the_classifiers(tiny_overrides):
    model, batch = _assembled(tiny_overrides + ["fusion=pmei_mtl", "task=joint"])
    model.eval()
    with torch.no_grad():
        assert model.early is None and model.maps is None
        assert torch.equal(model.fuse(batch).states, model.base.fuse(batch).states)


def test_the_base_sets_what_the_datamodule_loads(tiny_overrides):
    model, batch = _assembled(tiny_overrides + ["fusion=pmei", "fusion.module.base=text_only", "task=mner"])
    assert "image" not in batch and model.vision is None
    model, batch = _assembled(tiny_overrides + ["fusion=pmei", "task=mner"])  # default base: HVPNeT, with crops
    assert "aux" in batch and type(model.base).__name__ == "HVPNeT"


@pytest.mark.parametrize("fusion", ["pmei_mtl", "pmei_mtl_sm", "pmei_wo_sm", "pmei_wo_interaction", "pmei_wo_gru"])
def test_every_variant_trains_on_joint_extraction(tiny_overrides, fusion):
    results = run(compose_config(tiny_overrides + [f"fusion={fusion}", "task=joint", "fusion.module.base=concat",
                                                   "fusion.module.bilstm=true"]))
    assert results["fusion"] == fusion and {"f1", "exact_f1"} <= results["metrics"]["test"].keys()
