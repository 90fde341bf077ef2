"""HVPNeT: prefix attention is exact when off, the prefix matters when on, gradients reach every
part, gates are distributions, each variant routes exactly the stages and layers of the paper, the
reference's per-head prefix split isolates each head's tokens, and the paper experiments carry the
reference's settings where the paper is silent."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import BertConfig, BertModel

from fusionlab.analysis.plots.gates import draw_gate_heatmap
from fusionlab.data.example import Example
from fusionlab.encoders.prefix_attention import VisualPrefix, enable_prefix_attention
from fusionlab.encoders.text import TextEncoder, text_encoder
from fusionlab.encoders.vision import vision_encoder
from fusionlab.fusion.hvpnet import HVPNeT
from fusionlab.schema import option_values
from fusionlab.tasks.mner import MnerTask
from fusionlab.train import assemble, run
from tests.conftest import compose_config

STAGES = 4  # the tiny vision encoder's stages
CROPS = 3


def _bert(layers: int = 2, heads: int = 4, hidden: int = 32) -> BertModel:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=64)
    return BertModel(config, add_pooling_layer=False).eval()


def _inputs():
    ids = torch.randint(0, 50, (3, 9))
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 6:] = 0
    return ids, mask


def test_masked_or_absent_prefix_equals_the_plain_hugging_face_model():
    plain = _bert()
    prefixed = copy.deepcopy(plain)
    enable_prefix_attention(prefixed)
    ids, mask = _inputs()
    expected = plain(input_ids=ids, attention_mask=mask).last_hidden_state
    keys = [torch.randn(3, 4, 5, 8) for _ in range(2)]
    values = [torch.randn(3, 4, 5, 8) for _ in range(2)]
    masked = VisualPrefix(keys, values, torch.zeros(3, 5, dtype=torch.bool))
    torch.testing.assert_close(prefixed(input_ids=ids, attention_mask=mask).last_hidden_state, expected,
                               atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(prefixed(input_ids=ids, attention_mask=mask, visual_prefix=masked).last_hidden_state,
                               expected, atol=1e-6, rtol=1e-5)
    on = VisualPrefix(keys, values, torch.ones(3, 5, dtype=torch.bool))
    changed = prefixed(input_ids=ids, attention_mask=mask, visual_prefix=on).last_hidden_state
    assert (changed - expected).abs().max() > 1e-2


def test_prefix_attention_matches_a_direct_computation_of_eq_9():
    model = _bert(layers=1)
    enable_prefix_attention(model)
    attention = model.encoder.layer[0].attention.self
    hidden = torch.randn(2, 4, 32)
    keys, values = [torch.randn(2, 4, 3, 8)], [torch.randn(2, 4, 3, 8)]
    prefix_mask = torch.tensor([[True, False, True], [True, True, True]])
    output, _ = attention(hidden, attention_mask=None, visual_prefix=VisualPrefix(keys, values, prefix_mask))
    split = lambda x: x.view(2, 4, 4, 8).transpose(1, 2)
    q, k, v = split(attention.query(hidden)), split(attention.key(hidden)), split(attention.value(hidden))
    scores = q @ torch.cat([keys[0], k], 2).transpose(-1, -2) / 8 ** 0.5
    scores = scores.masked_fill(~torch.cat([prefix_mask, torch.ones(2, 4, dtype=torch.bool)], 1)[:, None, None], -1e9)
    expected = (scores.softmax(-1) @ torch.cat([values[0], v], 2)).transpose(1, 2).reshape(2, 4, 32)
    torch.testing.assert_close(output.reshape(2, 4, 32), expected, atol=1e-5, rtol=1e-4)


def test_encoders_without_the_attention_interface_are_refused():
    with pytest.raises(ValueError, match="AttentionInterface"):
        enable_prefix_attention(torch.nn.Linear(2, 2))


def _hvpnet(fusion_overrides: dict, layers: int = 2, **bert) -> HVPNeT:
    task = MnerTask()
    task.data.fit([Example(["a", "b"], tags=["B-PER", "O"])])
    tokenizer = text_encoder("tiny").tokenizer
    text = TextEncoder(_bert(layers, **bert), tokenizer, "tiny")
    torch.manual_seed(1)
    return HVPNeT(task, text, vision_encoder("tiny", freeze=False), **option_values("hvpnet", fusion_overrides)).eval()


def _features(batch_size: int = 2) -> dict:
    """Cached-feature form of a batch: global image and crops as tiny-encoder pyramids."""
    channels = [8, 16, 24, 32]
    image = {f"pyramid_{i}": torch.randn(batch_size, c, 2, 2) for i, c in enumerate(channels)}
    aux = {f"pyramid_{i}": torch.randn(batch_size, CROPS, c, 2, 2) for i, c in enumerate(channels)}
    return {"image": image, "image_mask": torch.ones(batch_size, dtype=torch.bool), "aux": aux,
            "aux_mask": torch.ones(batch_size, CROPS, dtype=torch.bool)}


def _perturbed(batch: dict, key: str, stage: int) -> dict:
    changed = copy.deepcopy(batch)
    changed[key][f"pyramid_{stage}"] = changed[key][f"pyramid_{stage}"] + 1.0
    return changed


def _layer_changes(model: HVPNeT, batch: dict, key: str, stage: int) -> list[bool]:
    """Which layers' prefix keys change when one stage of one image source changes."""
    with torch.no_grad():
        before, _, _ = model.visual_prefix(batch)
        after, _, _ = model.visual_prefix(_perturbed(batch, key, stage))
    return [not torch.allclose(a, b) for a, b in zip(before.keys, after.keys)]


def test_full_hvpnet_routes_every_stage_to_every_layer_with_gates_that_sum_to_one():
    model = _hvpnet({"routing": "gate"}, layers=8)
    batch = _features()
    prefix, routes, _ = model.visual_prefix(batch)
    assert routes.shape == (2, 1 + CROPS, 8, STAGES)
    torch.testing.assert_close(routes.sum(-1), torch.ones(2, 1 + CROPS, 8))
    assert prefix.keys[0].shape == (2, 4, 4 * (1 + CROPS), 8)  # hw(m+1) = 16 tokens, 4 heads of 8
    for stage in range(STAGES):
        assert all(_layer_changes(model, batch, "image", stage))
        assert all(_layer_changes(model, batch, "aux", stage))


def test_flat_uses_only_the_last_stage_and_the_same_prefix_in_every_layer():
    model = _hvpnet({"routing": "flat"}, layers=8)
    batch = _features()
    for stage in range(STAGES - 1):
        assert not any(_layer_changes(model, batch, "image", stage))
    assert all(_layer_changes(model, batch, "image", STAGES - 1))
    with torch.no_grad():
        prefix, _, _ = model.visual_prefix(batch)
    assert all(torch.equal(k, prefix.keys[0]) for k in prefix.keys)


def test_1t3_feeds_stage_i_to_the_ith_contiguous_group_of_layers():
    model = _hvpnet({"routing": "groups"}, layers=8)  # L / c = 2 layers per stage
    batch = _features()
    for stage in range(STAGES):
        expected = [layer // 2 == stage for layer in range(8)]
        assert _layer_changes(model, batch, "image", stage) == expected


def test_onlyobj_ignores_the_global_image():
    model = _hvpnet({"global_image": False}, layers=2)
    batch = _features()
    for stage in range(STAGES):
        assert not any(_layer_changes(model, batch, "image", stage))
        assert all(_layer_changes(model, batch, "aux", stage))
    prefix, _, _ = model.visual_prefix(batch)
    assert prefix.mask.shape == (2, 4 * CROPS)


def test_missing_crops_are_masked_out_of_the_prefix():
    model = _hvpnet({"routing": "gate"})
    batch = _features()
    batch["aux_mask"][0, 1:] = False
    prefix, _, _ = model.visual_prefix(batch)
    assert prefix.mask[0].tolist() == [True] * 8 + [False] * 8 and prefix.mask[1].all()
    with torch.no_grad():
        ids, mask = _inputs()
        run = lambda b: model.text.model(input_ids=ids[:2], attention_mask=mask[:2],
                                         visual_prefix=model.visual_prefix(b)[0]).last_hidden_state
        before = run(batch)
        batch["aux"]["pyramid_0"][0, 1:] += 5.0  # the masked crops' features must not matter
        torch.testing.assert_close(run(batch), before)


def _assembled(tiny_overrides, fusion="hvpnet"):
    parts = assemble(compose_config(tiny_overrides + [f"fusion={fusion}", "encoder.vision.freeze=false"]))
    return parts.model, next(iter(parts.datamodule.train_dataloader()))


def test_without_any_image_hvpnet_equals_its_text_encoder(tiny_overrides):
    model, batch = _assembled(tiny_overrides)
    plain = copy.deepcopy(model.method.text.model)
    plain.set_attn_implementation("sdpa")
    plain.eval()
    batch["image_mask"][:] = False
    batch["aux_mask"][:] = False
    model.eval()
    with torch.no_grad():
        expected = plain(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        states = model.method.fuse(batch).states
    # packed tokens: only the states the head reads are computed (encoders/read_tokens.py), the rest are zeros
    read = torch.zeros_like(batch["attention_mask"]).bool().scatter_(1, model.method.task.positions_read(batch), True)
    assert not read.all()
    torch.testing.assert_close(states[read], expected[read], atol=1e-6, rtol=1e-5)
    assert states[~read].abs().max() == 0


def test_gradients_reach_the_vision_encoder_the_mapping_and_every_gate(tiny_overrides):
    model, batch = _assembled(tiny_overrides)
    assert batch["aux"].dim() == 5  # pixels of the crops: the encoder runs
    model.training_step(batch, 0).backward()
    parts = {"vision": model.method.vision, "mapping": model.method.mapping, **{f"gate{l}": g for l, g in enumerate(model.method.gates)}}
    for name, module in parts.items():
        grads = [p.grad for p in module.parameters()]
        assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0, name


def test_gate_means_are_logged_per_layer_and_stage(tiny_overrides):
    model, batch = _assembled(tiny_overrides)
    model.train()
    model.method.fuse(batch)
    means = model.method.gate_mean.compute()
    assert means.shape == (model.method.layers, STAGES)
    torch.testing.assert_close(means.sum(-1), torch.ones(model.method.layers))


def test_gate_figure_is_a_png(tmp_path):
    path = draw_gate_heatmap(torch.rand(8, 6, STAGES).softmax(-1), tmp_path / "gates.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("variant", ["hvpnet_flat", "hvpnet_1t3", "hvpnet_onlyobj"])
def test_every_variant_trains_and_reports(tmp_path, tiny_overrides, variant):
    results = run(compose_config(tiny_overrides + [f"fusion={variant}"]))
    assert results["fusion"] == variant and 0.0 <= results["metrics"]["test"]["f1"] <= 1.0
    assert (tmp_path / "run" / "gates.png").exists() == (variant == "hvpnet_onlyobj")  # gated variants only


# BERT-base's proportions scaled down: 12 heads, 16 prefix tokens, so that each head of the reference's
# reshape holds 4/3 of a token (head 0: token 0 and the first quarter of token 1), as at d = 768.
SPLIT_BERT = {"heads": 12, "hidden": 48}


def _tokens_of_head(head: int, tokens: int = 16, hidden: int = 48, heads: int = 12) -> set[int]:
    """Prefix tokens whose numbers land in ``head`` under ``reshape(B, heads, -1, d_head)`` of [B, P, d]."""
    width = tokens * hidden // heads  # numbers per head
    return set(range(head * width // hidden, ((head + 1) * width - 1) // hidden + 1))


def _head_outputs(model: HVPNeT, tokens: torch.Tensor, hidden_states: torch.Tensor) -> torch.Tensor:
    """Layer 0's self-attention output per head, [B, n, heads, d_head], for a token-level prefix [B, P, 2d]."""
    prefix = model.head_prefix([tokens], torch.ones(tokens.shape[:2], dtype=torch.bool))
    attention = model.text.model.encoder.layer[0].attention.self
    with torch.no_grad():
        output, _ = attention(hidden_states, attention_mask=None, visual_prefix=prefix)
    return output.reshape(*hidden_states.shape[:2], model.heads, -1)


@pytest.mark.parametrize("head", [0, 1, 5, 11])
def test_reference_head_split_lets_each_head_attend_only_to_its_own_prefix_tokens(head):
    torch.manual_seed(2)
    tokens, hidden_states = torch.randn(2, 16, 96), torch.randn(2, 5, 48)
    own = _tokens_of_head(head)
    assert len(own) == 2  # 4/3 of a token spans two tokens
    others = torch.tensor(sorted(set(range(16)) - own))
    perturbed = tokens.clone()
    perturbed[:, others] += 3.0  # the keys and values (both halves of Eq. 8's 2d) of every other token
    inside = tokens.clone()
    inside[:, sorted(own)] += 3.0
    split, shared = _hvpnet({"prefix_heads": "reshape"}, layers=1, **SPLIT_BERT), _hvpnet({}, layers=1, **SPLIT_BERT)

    before = _head_outputs(split, tokens, hidden_states)
    after = _head_outputs(split, perturbed, hidden_states)
    torch.testing.assert_close(after[:, :, head], before[:, :, head])
    assert (after - before).abs().amax(dim=(0, 1, 3)).gt(1e-3).sum() >= 10  # the other heads see the change
    assert (_head_outputs(split, inside, hidden_states) - before)[:, :, head].abs().max() > 1e-3
    # the paper's reading (default): every head sees every token, so head h moves too
    assert (_head_outputs(shared, perturbed, hidden_states) - _head_outputs(shared, tokens, hidden_states))[
        :, :, head].abs().max() > 1e-3


def test_reference_head_split_masks_a_missing_crop_in_the_heads_that_hold_it():
    model = _hvpnet({"prefix_heads": "reshape"}, **SPLIT_BERT)
    batch = _features()
    batch["aux_mask"][0, 0] = False  # sample 0's first crop: prefix tokens 4-7, heads 3-5 at 4/3 token per head
    prefix, _, _ = model.visual_prefix(batch)
    assert prefix.keys[0].shape == (2, 12, 16, 4) and prefix.mask.shape == (2, 12, 16)
    assert not prefix.mask[0, 3:6].any() and prefix.mask[0, :3].all() and prefix.mask[0, 6:].all()
    assert prefix.mask[1].all()
    with torch.no_grad():
        ids, mask = _inputs()
        run = lambda b: model.text.model(input_ids=ids[:2], attention_mask=mask[:2],
                                         visual_prefix=model.visual_prefix(b)[0]).last_hidden_state
        before = run(batch)
        batch["aux"]["pyramid_2"][0, 0] += 5.0  # the missing crop's features must not matter
        torch.testing.assert_close(run(batch), before)


PAPER_SETTINGS = {  # experiment: max_length, head_lr, RE head dropout
    "hvpnet_twitter2015": (80, 5.0e-2, 0.1),
    "hvpnet_twitter2017": (128, 5.0e-2, 0.1),
    "hvpnet_mnre": (80, 1.0e-5, 0.0),
}


@pytest.mark.parametrize("experiment", sorted(PAPER_SETTINGS))
def test_paper_experiments_use_the_reference_s_settings_where_the_paper_is_silent(experiment):
    cfg = compose_config([f"experiment={experiment}", "output_dir=/tmp/x"])
    max_length, head_lr, dropout = PAPER_SETTINGS[experiment]
    assert cfg.encoder.vision.name == "resnet50" and cfg.encoder.vision.weights == "IMAGENET1K_V1"
    assert cfg.encoder.vision.freeze is True and cfg.encoder.vision.trainable_stages is None
    assert cfg.data.max_length == max_length and cfg.optim.head_lr == head_lr and cfg.task.head.dropout == dropout
    assert cfg.fusion.module.prefix_heads == "all"


def test_default_config_keeps_the_paper_s_head_reading_and_the_offline_encoder():
    cfg = compose_config(["output_dir=/tmp/x"])
    assert cfg.fusion.module.prefix_heads == "all"
    assert cfg.encoder.vision.name == "effnet_lite0" and cfg.encoder.vision.freeze is True
    assert cfg.encoder.vision.weights is None and cfg.encoder.vision.trainable_stages is None


def test_twitter_experiment_trains_no_vision_parameter_and_the_crf_at_5e_2(tmp_path):
    cfg = compose_config(["experiment=hvpnet_twitter2015", "encoder.text.name=tiny", "encoder.vision.name=tiny",
                          "trainer=cpu", f"output_dir={tmp_path}/run", f"cache_root={tmp_path}/cache"])
    model = assemble(cfg, labels={"types": ["LOC", "PER"]}, read_data=False).model
    vision = {id(p) for p in model.method.vision.parameters()}
    groups = model.parameter_groups()
    assert not any(id(p) in vision for g in groups for p in g["params"])
    assert not any(p.requires_grad for p in model.method.vision.parameters())
    head = {id(p) for p in model.head.parameters()}
    assert {id(p) for p in model.head.crf.parameters()} | {id(p) for p in model.head.emissions.parameters()} == head
    assert {g["lr"] for g in groups if any(id(p) in head for p in g["params"])} == {5.0e-2}
    assert all(id(p) in head for g in groups if g["lr"] == 5.0e-2 for p in g["params"])
    assert {g["lr"] for g in groups if not any(id(p) in head for p in g["params"])} == {3.0e-5}
