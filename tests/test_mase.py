"""MASE: the E-step allocation, the scene graph and its heterogeneous GAT, L_cc, the variants,
and that z follows the modality that decides the label on synthetic data."""

from __future__ import annotations

import math
import sys
import types

import lightning as L
import pytest
import torch
from hydra.errors import ConfigCompositionException

from fusionlab.encoders.hub import EncoderUnavailableError
from fusionlab.encoders.proxy import proxy_encoder
from fusionlab.fusion.mase.allocation import allocation, label_entropy, mutual_information
from fusionlab.fusion.mase.contrastive import cross_modal_infonce
from fusionlab.fusion.mase.expectation import ExpectationStep
from fusionlab.fusion.mase.hgat import HeterogeneousGAT
from fusionlab.fusion.mase.scene_graph import EDGE_TYPES, RuleGraphBuilder, SceneGraph, batch_graphs, graph_builder
from fusionlab.train import assemble, run
from tests.conftest import compose_config

VARIANTS = ["mase", "mase_wo_contrastive", "mase_wo_balance", "mase_wo_entity", "mpb"]


def expectation_step(trainer) -> ExpectationStep:
    """The MASE E-step callback the model brought to ``trainer``."""
    return next(c for c in trainer.callbacks if isinstance(c, ExpectationStep))


def _assembled(overrides):
    parts = assemble(compose_config(overrides))
    return parts, next(iter(parts.datamodule.train_dataloader()))


# --- L_cc (Eq. 8) --------------------------------------------------------------------------
def test_infonce_equals_a_direct_computation():
    torch.manual_seed(0)
    features = [torch.randn(4, 6) for _ in range(3)]
    present = [torch.ones(4, dtype=torch.bool), torch.tensor([True, False, True, True]), torch.ones(4, dtype=torch.bool)]
    tau = 0.5
    got = cross_modal_infonce(features, present, tau)
    unit = [f / f.norm(dim=-1, keepdim=True) for f in features]
    for i in range(4):
        expected = 0.0
        for m in range(3):
            for k in range(3):
                if k == m or not (present[m][i] and present[k][i]):
                    continue
                scores = {j: math.exp(float(unit[m][i] @ unit[k][j]) / tau) for j in range(4) if present[k][j]}
                expected -= math.log(scores[i] / sum(scores.values()))
        assert got[i].item() == pytest.approx(expected, rel=1e-5)


# --- HGAT (Eq. 12-14) ------------------------------------------------------------------------
def _adjacency(edges: list[tuple[int, int, int]], nodes: int, types_: int = 2) -> torch.Tensor:
    """``edges`` (source, target, type) -> [1, R, N, N] with self-loops of type 0."""
    adjacency = torch.zeros(1, types_, nodes, nodes, dtype=torch.bool)
    for node in range(nodes):
        adjacency[0, 0, node, node] = True
    for source, target, kind in edges:
        adjacency[0, kind, target, source] = True
    return adjacency


def test_each_edge_type_has_its_own_parameters():
    torch.manual_seed(0)
    gat = HeterogeneousGAT(8, edge_types=2, heads=2)
    nodes = torch.randn(1, 2, 8)
    as_type_0, as_type_1 = gat(nodes, _adjacency([(1, 0, 0)], 2)), gat(nodes, _adjacency([(1, 0, 1)], 2))
    assert not torch.allclose(as_type_0[0, 0], as_type_1[0, 0])  # the same edge, typed differently
    with torch.no_grad():
        gat.weight[1].add_(1.0)  # change only the type-1 parameters
    assert torch.equal(gat(nodes, _adjacency([(1, 0, 0)], 2)), as_type_0)
    assert not torch.allclose(gat(nodes, _adjacency([(1, 0, 1)], 2)), as_type_1)


def test_a_node_is_unchanged_by_nodes_it_has_no_edge_to():
    torch.manual_seed(0)
    gat = HeterogeneousGAT(8, edge_types=2, heads=2)
    adjacency = _adjacency([(1, 0, 1), (3, 2, 1)], 4)  # 1 -> 0 and 3 -> 2
    nodes = torch.randn(1, 4, 8)
    changed = nodes.clone()
    changed[0, 3] += 5.0
    before, after = gat(nodes, adjacency), gat(changed, adjacency)
    assert torch.equal(before[0, :2], after[0, :2])
    assert not torch.allclose(before[0, 2], after[0, 2])


def test_attention_is_a_softmax_over_every_neighbour_of_every_type():
    gat = HeterogeneousGAT(4, edge_types=2, heads=1)
    with torch.no_grad():
        gat.attention.zero_()  # equal scores: every (neighbour, type) gets the same weight
        gat.weight.copy_(torch.eye(4).expand(2, 1, 4, 4))
    nodes = torch.tensor([[[1.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 5.0, 0]]])
    out = gat(nodes, _adjacency([(1, 0, 0), (2, 0, 1)], 3))  # node 0: itself, 1 (type 0), 2 (type 1)
    expected = torch.nn.functional.elu(nodes[0].mean(0))
    assert torch.allclose(out[0, 0], expected)


# --- the MSSG --------------------------------------------------------------------------------
def test_the_rules_find_the_marked_pair_names_mentions_and_hashtags():
    words = ["<s>", "Kalo", "</s>", "is", "member", "of", "<o>", "Zuren", "Mi", "</o>", "with", "@bob", "and",
             "#Paris", "Big", "News"]
    graph = RuleGraphBuilder()(words)
    assert graph.entities == ((1, 2), (7, 9), (11, 12), (13, 16))
    assert graph.relations == ((0, 1),)


def test_graph_tensors_link_the_sentence_node_and_leave_out_truncated_entities():
    graph = SceneGraph(entities=((0, 1), (2, 4), (6, 7)), relations=((0, 1),))
    word_index = torch.tensor([[1, 2, 3, 4, 5, 6]])  # 6 words kept; the third entity (word 6) is cut off
    word_mask = torch.ones(1, 6, dtype=torch.bool)
    graphs = batch_graphs([graph], word_index, word_mask, tokens=8)
    assert graphs.node_mask.tolist() == [[True, True, True]]
    assert graphs.membership[0, 0].nonzero().flatten().tolist() == [0]  # the sentence node reads [CLS]
    assert graphs.membership[0, 2].nonzero().flatten().tolist() == [3, 4]  # words 2-3
    edge = {name: graphs.adjacency[0, r] for r, name in enumerate(EDGE_TYPES)}
    assert edge["related"][2, 1] and edge["related_by"][1, 2]  # entity 1 -> entity 2 and back
    assert edge["next"][2, 1] and edge["previous"][1, 2]
    assert edge["in_sentence"][0, 1:].all() and edge["has_entity"][1:, 0].all()
    assert edge["self"].diagonal().all()


def test_the_parser_builder_maps_parsed_entities_to_words(monkeypatch):
    parsed = {"entities": [{"span": "the Dog"}, {"span": "a red ball"}, {"span": "nowhere"}],
              "relations": [{"subject": 0, "object": 1, "relation": "with"}, {"subject": 0, "object": 2}]}
    monkeypatch.setitem(sys.modules, "sng_parser", types.SimpleNamespace(parse=lambda text: parsed))
    builder = graph_builder("auto")
    assert builder.name == "parser"
    graph = builder(["The", "dog", "plays", "with", "a", "red", "ball"])
    assert graph.entities == ((0, 2), (4, 7))
    assert graph.relations == ((0, 1),)
    assert builder.unmatched == 1  # "nowhere" is counted, not silently lost


def test_without_the_parser_the_rules_run(monkeypatch):
    monkeypatch.setitem(sys.modules, "sng_parser", None)  # an import of it fails
    assert graph_builder("auto").name == "rules"


# --- the E-step estimate (Eq. 10-11) ----------------------------------------------------------
def test_mutual_information_credits_the_informative_modality_only():
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (300,), generator=generator)
    informative = torch.nn.functional.one_hot(labels, 3).float() * 3 + torch.randn(300, 3, generator=generator)
    noise = torch.randn(300, 16, generator=generator)
    entropy = label_entropy(labels)
    assert entropy == pytest.approx(math.log(3), abs=0.02)
    high, low = mutual_information(informative, labels), mutual_information(noise, labels)
    assert high > 0.8 * entropy and low < 0.05 * entropy
    z = allocation(torch.tensor([high, low]))
    assert z.sum().item() == pytest.approx(1.0) and z[0] > 0.9


def test_mutual_information_of_multi_label_sentences_sums_the_labels():
    generator = torch.Generator().manual_seed(0)
    labels = (torch.rand(300, 2, generator=generator) < 0.5).float()
    features = torch.cat([labels[:, :1] * 4 + torch.randn(300, 1, generator=generator),
                          torch.randn(300, 1, generator=generator)], dim=1)  # knows label 0 only
    assert label_entropy(labels) == pytest.approx(2 * math.log(2), abs=0.02)
    assert mutual_information(features, labels) == pytest.approx(math.log(2), abs=0.15)


def test_without_information_the_allocation_stays_uniform():
    assert allocation(torch.zeros(3)).tolist() == pytest.approx([1 / 3] * 3)


class _EStepProbe(L.Callback):
    """At the first batch: run one E-step by hand and record what it did."""

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if batch_idx:
            return
        before = {n: p.detach().clone() for n, p in module.named_parameters()}
        self.grad_enabled = []
        hook = module.method.text.register_forward_hook(lambda *args: self.grad_enabled.append(torch.is_grad_enabled()))
        expectation_step(trainer).estimate(trainer, module, round_index=1)
        hook.remove()
        self.unchanged = all(torch.equal(p, before[n]) for n, p in module.named_parameters())
        self.no_grads = all(p.grad is None for p in module.parameters())
        self.training_after = module.training
        self.z = module.method.z.clone()


def test_the_e_step_changes_no_parameter_and_builds_no_graph(tiny_overrides, tmp_path):
    parts, _ = _assembled(tiny_overrides + ["fusion=mase", "task=msa"])
    probe = _EStepProbe()
    trainer = L.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[probe], default_root_dir=tmp_path)
    trainer.fit(parts.model, datamodule=parts.datamodule)
    assert probe.grad_enabled and not any(probe.grad_enabled)
    assert probe.unchanged and probe.no_grads and probe.training_after
    assert probe.z.sum().item() == pytest.approx(1.0) and (probe.z >= 0).all()


def _head_view(task: str, text: torch.Tensor, batch: dict) -> torch.Tensor:
    """What the task's head reads of token states, computed here independently of the model."""
    if task == "mre":  # PairClassifier: [<s>; <o>]
        rows = torch.arange(text.size(0))
        return torch.cat([text[rows, batch["head_pos"]], text[rows, batch["tail_pos"]]], dim=-1)
    if task in ("mner", "joint"):  # each word's first sub-token, averaged over the sentence's words
        words = text.gather(1, batch["word_index"][..., None].expand(-1, -1, text.size(-1)))
        mask = batch["word_mask"][..., None].float()
        return (words * mask).sum(1) / mask.sum(1)
    return text[:, 0]  # SentenceClassifier: [CLS]


class _ProbeInputs(L.Callback):
    """At the first batch: run one E-step, recording what its probe reads, and recompute the
    vectors the task head reads from the same (frozen) model."""

    def __init__(self, monkeypatch, task: str):
        import fusionlab.fusion.mase.model as mase_model

        self.task, self.seen = task, []
        probe = mase_model.mutual_information
        monkeypatch.setattr(mase_model, "mutual_information",
                            lambda features, labels: self.seen.append(features) or probe(features, labels))

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if batch_idx:
            return
        expectation_step(trainer).estimate(trainer, module, round_index=1)
        module.eval()
        method = module.method
        with torch.no_grad():
            expected = [[] for _ in method.modalities]
            for sample in trainer.datamodule.estimation_loader(method.estimation_samples):
                text, others, present = method.modality_features(sample)
                vectors = [_head_view(self.task, text, sample), *[o * p[:, None] for o, p in zip(others, present)]]
                for store, vector in zip(expected, vectors):
                    store.append(vector)
        module.train()
        self.expected = [torch.cat(e) for e in expected]


@pytest.mark.parametrize("task", ["mre", "mner", "joint", "msa"])
def test_the_e_step_probe_reads_what_the_task_head_reads(tiny_overrides, tmp_path, monkeypatch, task):
    parts, _ = _assembled(tiny_overrides + ["fusion=mase", f"task={task}"])
    inputs = _ProbeInputs(monkeypatch, task)
    trainer = L.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[inputs], default_root_dir=tmp_path)
    trainer.fit(parts.model, datamodule=parts.datamodule)
    width, seen = parts.model.method.output_size, inputs.seen[:2]  # the callback's E-step runs before the module's
    assert [f.shape for f in seen] == [(48, 2 * width if task == "mre" else width), (48, width)]
    for probed, expected in zip(seen, inputs.expected):
        assert torch.allclose(probed, expected, atol=1e-5)


def test_on_mre_the_entity_injection_reaches_the_markers_the_head_reads(tiny_overrides):
    """Eq. 14's output at the head's entity node (node 1) lands at <s>, at the tail's (node 2) at
    <o>, scaled by z^T (Eq. 1), and nowhere else the head reads."""
    parts, batch = _assembled(tiny_overrides + ["fusion=mase", "task=mre"])
    model = parts.model.eval().method
    width, rows = model.output_size, torch.arange(len(batch["examples"]))
    delta = torch.zeros(model.hgat.weight.size(2))
    delta[:width] = 1.0  # the text block only: the image block of an entity node is not written back

    def read(node: int | None):
        hook = None if node is None else model.hgat.register_forward_hook(
            lambda module, args, out: out + torch.nn.functional.one_hot(torch.tensor(node), out.size(1))[:, None]
            * delta)
        with torch.no_grad():
            states = model.fuse(batch).states
        if hook:
            hook.remove()
        return states[rows, batch["head_pos"]], states[rows, batch["tail_pos"]]

    head, tail = read(None)
    assert (batch["head_pos"] > 0).all() and (batch["tail_pos"] > 0).all()  # no marker cut off
    z_text = model.z[0].item()
    head_1, tail_1 = read(1)
    assert torch.allclose(head_1 - head, torch.full_like(head, z_text), atol=1e-5)
    assert torch.allclose(tail_1, tail)
    head_2, tail_2 = read(2)
    assert torch.allclose(head_2, head)
    assert torch.allclose(tail_2 - tail, torch.full_like(tail, z_text), atol=1e-5)


def test_graph_tensors_write_a_marked_entity_back_to_its_marker():
    words = ["<s>", "Kalo", "</s>", "is", "in", "<o>", "Zuren", "Mi", "</o>", "Paris"]
    graph = RuleGraphBuilder()(words)
    assert graph.markers == (0, 5)  # entities 0 and 1 are marked; "Paris" (entity 2) is not
    word_index = torch.arange(1, 11)[None]  # one sub-token per word, after [CLS]
    graphs = batch_graphs([graph], word_index, torch.ones(1, 10, dtype=torch.bool), tokens=12)
    assert graphs.pooling[0, 1].nonzero().flatten().tolist() == [2]  # reads "Kalo"
    assert graphs.injection[0, 1].nonzero().flatten().tolist() == [1, 2]  # writes "<s>" and "Kalo"
    assert graphs.injection[0, 2].nonzero().flatten().tolist() == [6, 7, 8]  # "<o>", "Zuren", "Mi"
    assert graphs.injection[0, 3].nonzero().flatten().tolist() == [10]  # "Paris": its word only
    assert graphs.injection[0, 0].nonzero().flatten().tolist() == [0]  # the sentence node: [CLS]


# --- the module ------------------------------------------------------------------------------
def test_eq_1_at_the_cls_position_is_the_papers_h_star(tiny_overrides):
    parts, batch = _assembled(tiny_overrides + ["fusion=mase_wo_entity", "task=msa"])
    model = parts.model.eval().method
    model.z.copy_(torch.tensor([0.3, 0.7]))
    with torch.no_grad():
        text, others, present = model.modality_features(batch)
        fused = model.fuse(batch).states
    assert torch.allclose(fused[:, 0], 0.3 * text[:, 0] + 0.7 * others[0] * present[0][:, None], atol=1e-6)
    assert torch.allclose(fused[:, 5], 0.3 * text[:, 5] + 0.7 * others[0] * present[0][:, None], atol=1e-6)


def test_gradients_reach_the_image_encoder_the_graph_and_the_proxy_projection(tiny_overrides):
    parts, batch = _assembled(tiny_overrides + ["fusion=mase", "task=mre", "fusion.module.modalities=[text,image,proxy]"])
    model = parts.model.train()
    model.training_step(batch, 0).backward()
    for name in ("vision", "image", "hgat", "proxy_projection", "text"):
        grads = [p.grad for p in getattr(model.method, name).parameters() if p.requires_grad]
        assert grads and any(g is not None and g.abs().sum() > 0 for g in grads), name
    assert all(p.grad is None for p in model.method.proxy.parameters())  # the proxy tower is frozen


@pytest.mark.parametrize("fusion, built, absent", [
    ("mase", {"hgat"}, {"mix"}), ("mase_wo_entity", set(), {"hgat", "mix"}),
    ("mpb", {"mix"}, {"hgat"}), ("mase_wo_balance", {"hgat"}, {"mix"}), ("mase_wo_contrastive", {"hgat"}, {"mix"})])
def test_each_variant_builds_what_the_paper_says(tiny_overrides, fusion, built, absent):
    parts, batch = _assembled(tiny_overrides + [f"fusion={fusion}", "task=msa"])
    model = parts.model.train().method
    assert all(hasattr(model, name) for name in built) and not any(hasattr(model, name) for name in absent)
    losses = model.fuse(batch).losses
    assert ("alpha_l_cc" in losses) == (fusion in ("mase", "mase_wo_entity", "mase_wo_balance"))
    assert model.balance == (fusion in ("mase", "mase_wo_entity", "mase_wo_contrastive"))


def test_unknown_modalities_are_refused_at_config_time(tiny_overrides):
    with pytest.raises(ConfigCompositionException, match="modalities"):  # while composing: a typed option
        compose_config(tiny_overrides + ["fusion=mase", "task=msa", "fusion.module.modalities=[text,audio]"])
    with pytest.raises(ValueError, match="modalities start with text"):  # before any data: a rule across them
        assemble(compose_config(tiny_overrides + ["fusion=mase", "task=msa", "fusion.module.modalities=[image,text]"]))


def test_the_clip_proxy_fails_fast_offline():
    with pytest.raises(EncoderUnavailableError, match="proxy tower"):
        proxy_encoder("clip")


@pytest.mark.parametrize("fusion, task", [(v, "msa") for v in VARIANTS] + [("mase", "mre"), ("mase", "mner"),
                                                                          ("mase", "joint")])
def test_every_variant_trains_and_records_its_allocation(tiny_overrides, fusion, task, tmp_path):
    results = run(compose_config(tiny_overrides + [
        f"fusion={fusion}", f"task={task}", "trainer.max_epochs=2", "fusion.module.em_iterations=4",
        "fusion.module.modalities=[text,image,proxy]"]))
    method = results["method"]
    assert method["modalities"] == ["text", "image", "proxy"]
    trajectory = torch.tensor(method["z_trajectory"])
    assert (trajectory >= 0).all() and torch.allclose(trajectory.sum(-1), torch.ones(len(trajectory)))
    balanced = fusion not in ("mase_wo_balance", "mpb")
    assert len(trajectory) == (4 if balanced else 1)  # round 0 plus one E-step per later round
    if not balanced:
        assert method["z"] == pytest.approx([1 / 3] * 3)
    assert (tmp_path / "run" / "allocation.png").exists() == balanced


# --- learning: z follows the modality that decides ------------------------------------------
@pytest.mark.parametrize("decides, data", [
    ("image", ["dataset.synthetic.p_image_cue=1.0"]),
    ("text", ["dataset.synthetic.p_image_cue=0.0", "dataset.synthetic.p_irrelevant=1.0"])])
def test_z_rises_for_the_modality_that_decides_the_label(tmp_path, decides, data):
    results = run(compose_config([
        "+preset=laptop", "logger=none", "trainer.enable_progress_bar=false", "fusion=mase", "task=msa",
        f"output_dir={tmp_path}/run", f"cache_root={tmp_path}/cache", "dataset.synthetic.train=200",
        "dataset.synthetic.val=50", "dataset.synthetic.test=50", "trainer.max_epochs=3",
        "fusion.module.em_iterations=3", *data]))
    z_text, z_image = results["method"]["z"]
    assert (z_image > z_text + 0.3) if decides == "image" else (z_text > z_image + 0.3)
