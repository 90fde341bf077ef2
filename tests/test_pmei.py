"""PMEI: the closed-form KL and its per-sentence sum, sigma's regime, the detached prior, the w/o GRU
cells, which early predictions each map reads, when it samples, and that beta controls the KL."""

from __future__ import annotations

import math

import pytest
import torch
from torch import distributions, nn
from torch.nn import functional as F

from fusionlab.fusion.pmei.stochastic_map import Gaussian, StochasticMap, gaussian_kl
from fusionlab.train import assemble, run
from tests.conftest import compose_config


def _assembled(overrides, seed=0):
    torch.manual_seed(seed)
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


def test_sigma_is_softplus_of_the_cell_or_the_references_square():
    torch.manual_seed(0)
    h, y = torch.randn(2, 3, 4), torch.rand(2, 3, 5)
    for sigma, expected in (("softplus", lambda out: F.softplus(out) + 1e-6),
                            ("square", lambda out: torch.sqrt(out ** 2 + 1e-8))):
        stochastic_map = StochasticMap(hidden=4, evidence=5, sigma=sigma)
        raw = stochastic_map.std.cell(y.flatten(0, 1), h.flatten(0, 1)).view_as(h)  # GRUCell_sigma(y', h)
        assert torch.allclose(stochastic_map.posterior(h, y).std, expected(raw))
        assert torch.allclose(stochastic_map.prior(h, y).std, expected(stochastic_map.prior_std(y)))


@pytest.mark.parametrize("cell", ["mlp", "linear"])
def test_without_gru_mu_is_an_mlp_or_the_references_linear_on_h_and_y(cell):
    torch.manual_seed(0)
    stochastic_map = StochasticMap(hidden=4, evidence=5, cell=cell)
    h, y = torch.randn(2, 3, 4), torch.rand(2, 3, 5)
    hy = torch.cat([h, y], dim=-1)
    if cell == "mlp":  # Linear -> tanh -> Linear, t's width throughout
        first, last = stochastic_map.mean.cell[0], stochastic_map.mean.cell[2]
        expected = last(torch.tanh(first(hy)))
        assert (first.in_features, first.out_features, last.out_features) == (9, 4, 4)
    else:
        expected = stochastic_map.mean.cell(hy)
        assert isinstance(stochastic_map.mean.cell, nn.Linear)
    assert torch.allclose(stochastic_map.posterior(h, y).mean, expected)


def test_the_prior_reads_a_detached_copy_of_the_early_predictions():
    torch.manual_seed(0)
    stochastic_map = StochasticMap(hidden=4, evidence=5).train()
    h, y = torch.randn(2, 3, 4), torch.rand(2, 3, 5, requires_grad=True)
    grad = torch.autograd.grad(stochastic_map(h, y)[1].sum(), y)[0]
    posterior = stochastic_map.posterior(h, y)
    detached = torch.autograd.grad(gaussian_kl(posterior, stochastic_map.prior(h, y.detach())).sum(), y,
                                   retain_graph=True)[0]
    attached = torch.autograd.grad(gaussian_kl(posterior, stochastic_map.prior(h, y)).sum(), y)[0]
    assert torch.allclose(grad, detached) and not torch.allclose(grad, attached)


def test_the_kl_term_is_summed_over_each_sentence_and_weighted_by_beta(tiny_overrides):
    model, batch = _assembled(tiny_overrides + ["fusion=pmei", "task=joint", "fusion/base=text_only",
                                                "fusion.module.beta_e=0.5", "fusion.module.beta_r=0.25"])
    _without_dropout(model)
    losses = model.method.fuse(batch).losses
    h = model.method.shared(batch).states
    _, kls = model.method.task_representations(h, model.method.early_evidence(h, batch))
    mask, sentences = batch["attention_mask"], len(batch["examples"])
    for name, beta in (("entity", 0.5), ("relation", 0.25)):
        per_sentence = (kls[name] * mask).sum(-1)  # Eq. 14: every token of the sentence
        assert torch.allclose(losses[f"beta_l_ic_{name}"], beta * per_sentence.sum() / sentences)


def test_pmei_differs_measurably_from_pmei_wo_sm_with_the_same_weights(tiny_overrides):
    """Sampling t at sigma's initial scale moves t and C_e's logits; the deterministic map is pmei's mean."""
    overrides = tiny_overrides + ["task=joint", "fusion/base=text_only"]
    pmei, batch = _assembled(overrides + ["fusion=pmei"])
    wo_sm, _ = _assembled(overrides + ["fusion=pmei_wo_sm"])
    missing, _ = wo_sm.load_state_dict(pmei.state_dict(), strict=False)
    assert not missing  # every weight of w/o SM is pmei's
    _without_dropout(pmei)
    _without_dropout(wo_sm)
    torch.manual_seed(1)
    sampled, mean = pmei.method(batch), wo_sm.method(batch)
    for t, mu in zip(sampled.states, mean.states):
        assert (t - mu).norm() / mu.norm() > 0.5  # was 0.016 with sigma ~ 0.008
    tags, tags_wo_sm = pmei.head(sampled.states, batch)[0], wo_sm.head(mean.states, batch)[0]
    assert (tags - tags_wo_sm).norm() / tags_wo_sm.norm() > 0.5  # C_e's logits; was 0.016
    pmei.eval()
    wo_sm.eval()
    with torch.no_grad():  # at inference pmei is its mean: w/o SM with the same weights
        assert all(torch.allclose(a, b) for a, b in zip(pmei.method(batch).states, wo_sm.method(batch).states))


def _kl_after_training(overrides, beta: float, steps: int = 40) -> float:
    model, batch = _assembled(overrides + [f"fusion.module.beta_e={beta}", f"fusion.module.beta_r={beta}"])
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(steps):
        fused = model.method.fuse(batch)
        loss = model.head.loss(fused.states, batch) + sum(fused.losses.values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return sum(v.item() for k, v in fused.losses.items() if k.startswith("beta_l_ic")) / beta


def test_a_larger_beta_leaves_a_smaller_kl_after_training(tiny_overrides):
    overrides = tiny_overrides + ["fusion=pmei", "task=joint", "fusion/base=text_only"]
    paper, strong = _kl_after_training(overrides, math.exp(-7)), _kl_after_training(overrides, 1.0)
    assert strong < 0.1 * paper, (paper, strong)


@pytest.mark.parametrize("fusion, interacts", [("pmei", True), ("pmei_wo_interaction", False)])
def test_each_map_reads_the_other_tasks_early_prediction_only_with_interaction(tiny_overrides, fusion, interacts):
    model, batch = _assembled(tiny_overrides + [f"fusion={fusion}", "task=joint"])
    model.eval()
    h = model.method.shared(batch).states.detach()
    evidence = {k: v.detach().requires_grad_() for k, v in model.method.early_evidence(h, batch).items()}
    representations, _ = model.method.task_representations(h, evidence)
    for task, other in (("entity", "relation"), ("relation", "entity")):
        grad, own = torch.autograd.grad(representations[task].sum(), [evidence[other], evidence[task]],
                                        allow_unused=True)
        depends = grad is not None and grad.abs().sum() > 0
        assert depends == interacts, f"t_{task} depends on y'_{other}: {depends}"
        assert own.abs().sum() > 0  # its own early prediction always counts


def test_pmei_samples_in_training_and_is_deterministic_at_inference(tiny_overrides):
    model, batch = _assembled(tiny_overrides + ["fusion=pmei", "task=joint"])
    _without_dropout(model)
    first, second = model.method.fuse(batch), model.method.fuse(batch)
    assert not torch.allclose(first.states[0], second.states[0])  # t_e = mu + sigma * eps
    assert {"alpha_l_early", "beta_l_ic_entity", "beta_l_ic_relation"} <= first.losses.keys()
    assert all(torch.isfinite(v) and v >= 0 for v in first.losses.values())
    model.eval()
    with torch.no_grad():
        first, second = model.method.fuse(batch), model.method.fuse(batch)
    assert all(torch.equal(a, b) for a, b in zip(first.states, second.states))  # the mean at inference


def test_pmei_wo_sm_is_deterministic_in_training_and_has_no_kl(tiny_overrides):
    model, batch = _assembled(tiny_overrides + ["fusion=pmei_wo_sm", "task=joint"])
    _without_dropout(model)
    first, second = model.method.fuse(batch), model.method.fuse(batch)
    assert all(torch.equal(a, b) for a, b in zip(first.states, second.states))
    assert set(first.losses) == {"alpha_l_early"}


def test_mtl_feeds_the_shared_states_straight_to_the_classifiers(tiny_overrides):
    model, batch = _assembled(tiny_overrides + ["fusion=pmei_mtl", "task=joint"])
    model.eval()
    with torch.no_grad():
        assert model.method.early is None and model.method.maps is None
        assert torch.equal(model.method.fuse(batch).states, model.method.base.fuse(batch).states)


def test_the_base_sets_what_the_datamodule_loads(tiny_overrides):
    model, batch = _assembled(tiny_overrides + ["fusion=pmei", "fusion/base=text_only", "task=mner"])
    assert "image" not in batch and model.method.vision is None
    model, batch = _assembled(tiny_overrides + ["fusion=pmei", "task=mner"])  # default base: HVPNeT, with crops
    assert "aux" in batch and type(model.method.base).__name__ == "HVPNeT"


@pytest.mark.parametrize("fusion", ["pmei_mtl", "pmei_mtl_sm", "pmei_wo_sm", "pmei_wo_interaction", "pmei_wo_gru"])
def test_every_variant_trains_on_joint_extraction(tiny_overrides, fusion):
    results = run(compose_config(tiny_overrides + [f"fusion={fusion}", "task=joint", "fusion/base=concat",
                                                   "fusion.module.bilstm=true"]))
    assert results["fusion"] == fusion and {"f1", "exact_f1"} <= results["metrics"]["test"].keys()


@pytest.mark.parametrize("task", ["joint", "mner", "msa"])
def test_the_early_classifier_runs_once_a_step_and_its_loss_supervises_the_evidence_the_maps_read(tiny_overrides,
                                                                                                 task):
    """One forward (one dropout mask) gives both L' and the y' the maps read."""
    model, batch = _assembled(tiny_overrides + ["fusion=pmei", f"task={task}", "fusion/base=text_only"])
    model.train()
    early, maps = model.method.early, model.method.maps
    calls, read = [], []
    early.register_forward_hook(lambda module, args, outputs: calls.append(outputs))
    for stochastic_map in maps.values():
        stochastic_map.register_forward_pre_hook(lambda module, args: read.append(args[1]))
    torch.manual_seed(0)
    logs = model.method.fuse(batch).logs
    assert len(calls) == 1
    loss, evidence = early.loss_of(calls[0], batch), early.evidence_of(calls[0], batch, batch["input_ids"].size(1))
    assert torch.equal(logs["l_early"], loss)
    expected = model.method.map_inputs(evidence, model.method.shared(batch).states)
    assert all(torch.equal(r, e) for r, e in zip(read, expected.values()))
