"""Packed tokens (``encoder.text.pack_tokens``): the text encoder, and MuSE's CrossTransformer with it, compute
only the real tokens of a padded batch, the encoder's last layer only the tokens the task head reads where the
method passes them on, and every method's loss and gradients are what the padded ones give, to float rounding."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fusionlab.encoders.packing import PackedTokens
from fusionlab.encoders.prefix_attention import VisualPrefix
from fusionlab.encoders.text import TextEncoder, text_encoder
from fusionlab.fusion.muse.cross_transformer import CrossTransformer
from fusionlab.train import assemble
from tests.conftest import compose_config

FUSIONS = ["text_only", "concat", "hvpnet", "muse", "pmei", "mase"]
TASKS = ["mner", "mre", "joint", "msa"]
READ_BY_HEAD = {"text_only", "concat", "hvpnet"}  # the methods whose text states go to the head token by token


def _without_dropout(module: nn.Module) -> nn.Module:
    for child in module.modules():
        if isinstance(child, nn.Dropout):
            child.p = 0.0
    return module


def _padded_batch():
    ids = torch.randint(1000, 2000, (3, 7), generator=torch.Generator().manual_seed(0))
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] * 2 + [0] * 5])
    return ids, mask


def test_packing_round_trips_and_gives_each_token_its_padded_position():
    mask = torch.tensor([[1, 1, 1], [1, 0, 0], [1, 1, 0]])
    tokens = PackedTokens.of(mask)
    assert tokens.index.tolist() == [0, 1, 2, 3, 6, 7]
    assert tokens.position_ids().tolist() == [[0, 1, 2, 0, 0, 1]]
    padded = torch.arange(9.0).view(3, 3, 1)
    assert tokens.pack(padded).flatten().tolist() == [0, 1, 2, 3, 6, 7]
    assert tokens.unpack(tokens.pack(padded)).flatten().tolist() == [0, 1, 2, 3, 0, 0, 6, 7, 0]


@pytest.mark.parametrize("with_prefix", [False, True])
def test_packed_states_and_gradients_are_the_padded_ones(with_prefix):
    torch.manual_seed(0)
    packed = _without_dropout(text_encoder("tiny")).double()
    padded = _without_dropout(text_encoder("tiny", pack_tokens=False)).double()
    padded.load_state_dict(packed.state_dict())
    ids, mask = _padded_batch()
    options = {}
    if with_prefix:  # HVPNeT's visual prefix: 2 layers x [B, heads, P, d_head], the second sample's last token masked
        config = packed.model.config
        shape = (3, config.num_attention_heads, 2, config.hidden_size // config.num_attention_heads)
        keys = [torch.randn(shape, dtype=torch.float64) for _ in range(config.num_hidden_layers)]
        values = [torch.randn(shape, dtype=torch.float64) for _ in range(config.num_hidden_layers)]
        options["visual_prefix"] = VisualPrefix(keys, values, torch.tensor([[1, 1], [1, 0], [1, 1]]).bool())
        padded.model.set_attn_implementation(packed.model.config._attn_implementation)
    states, reference = packed(ids, mask, **options), padded(ids, mask, **options)
    real = mask.bool()
    torch.testing.assert_close(states[real], reference[real], rtol=1e-10, atol=1e-12)
    assert states[~real].abs().max() == 0  # padding comes back as zeros
    weights = torch.randn(states.shape, dtype=torch.float64)
    (states[real] * weights[real]).sum().backward()
    (reference[real] * weights[real]).sum().backward()
    for (name, parameter), other in zip(packed.named_parameters(), padded.parameters()):
        if other.grad is None:
            assert parameter.grad is None, name
            continue
        torch.testing.assert_close(parameter.grad, other.grad, rtol=1e-9, atol=1e-12, msg=name)


def test_the_encoder_layers_compute_the_real_tokens_only():
    encoder = text_encoder("tiny")
    seen = []
    encoder.model.encoder.layer[0].intermediate.dense.register_forward_hook(lambda m, i, o: seen.append(i[0].shape))
    ids, mask = _padded_batch()
    assert encoder(ids, mask).shape == (3, 7, encoder.hidden_size)
    encoder.pack_tokens = False
    encoder(ids, mask)
    assert seen == [(1, int(mask.sum()), encoder.hidden_size), (3, 7, encoder.hidden_size)]


def test_a_batch_without_padding_runs_as_it_is():
    encoder = text_encoder("tiny")
    seen = []
    encoder.model.encoder.layer[0].intermediate.dense.register_forward_hook(lambda m, i, o: seen.append(i[0].shape))
    encoder(torch.randint(1000, 2000, (2, 5)), torch.ones(2, 5, dtype=torch.long))
    assert seen == [(2, 5, encoder.hidden_size)]


@pytest.mark.parametrize("with_prefix", [False, True])
@pytest.mark.parametrize("padding", [True, False])
def test_the_last_layer_computes_the_read_tokens_only_and_they_get_the_full_states(with_prefix, padding):
    torch.manual_seed(0)
    encoder = _without_dropout(text_encoder("tiny")).double()
    ids, mask = _padded_batch()
    mask = mask if padding else torch.ones_like(mask)
    read = torch.tensor([[0, 2, 5], [1, 3, 0], [1, 1, 0]])  # repeated and [CLS] positions, as padded words give
    options = {}
    if with_prefix:
        config = encoder.model.config
        shape = (3, config.num_attention_heads, 2, config.hidden_size // config.num_attention_heads)
        options["visual_prefix"] = VisualPrefix([torch.randn(shape, dtype=torch.float64) for _ in range(2)],
                                                [torch.randn(shape, dtype=torch.float64) for _ in range(2)],
                                                torch.tensor([[1, 1], [1, 0], [1, 1]]).bool())
        encoder.model.set_attn_implementation(encoder.model.config._attn_implementation)
    seen = []
    last = encoder.model.encoder.layer[-1]
    last.intermediate.dense.register_forward_hook(lambda m, i, o: seen.append(i[0].shape[:-1].numel()))
    states = encoder(ids, mask, read_positions=read, **options)
    full = encoder(ids, mask, **options)
    assert seen == [8, int(mask.sum())]  # 3 + 3 + 2 distinct positions read, then every real token
    chosen = torch.zeros(3, 7, dtype=torch.bool).scatter_(1, read, True)
    torch.testing.assert_close(states[chosen], full[chosen], rtol=1e-10, atol=1e-12)
    assert states[~chosen].abs().max() == 0
    gradients = []
    for output in (states, full):
        encoder.zero_grad()
        read_states = output[chosen]
        weights = torch.linspace(-1, 1, read_states.numel(), dtype=torch.float64).view_as(read_states)
        (read_states * weights).sum().backward()
        gradients.append({name: p.grad.clone() for name, p in encoder.named_parameters() if p.grad is not None})
    assert gradients[0].keys() == gradients[1].keys()
    for name, gradient in gradients[0].items():
        torch.testing.assert_close(gradient, gradients[1][name], rtol=1e-9, atol=1e-12, msg=name)


@pytest.mark.parametrize("task", TASKS)
def test_each_head_reads_the_states_at_its_positions_read_only(small, task):
    """``Task.positions_read`` names every position the head and ``sentence_vector`` read: states zeroed
    elsewhere give the same outputs."""
    parts = assemble(compose_config([*small, "fusion=text_only", f"task={task}"]))
    model = parts.model.eval()
    batch = next(iter(parts.datamodule.train_dataloader()))
    states = torch.randn(*batch["input_ids"].shape, model.method.output_size)
    positions = model.method.task.positions_read(batch)
    kept = torch.zeros(states.shape[:2], dtype=torch.bool).scatter_(1, positions, True)
    zeroed = states * kept[..., None]
    assert not kept.all()  # something is left out
    outputs, expected = model.head(zeroed, batch), model.head(states, batch)
    for output, reference in zip(*(o if isinstance(o, tuple) else (o,) for o in (outputs, expected))):
        torch.testing.assert_close(output, reference)
    task_of = model.method.task
    torch.testing.assert_close(task_of.sentence_vector(zeroed, batch), task_of.sentence_vector(states, batch))


@pytest.mark.parametrize("exchange_start", ["after_mu", "at_mu"])
def test_the_packed_cross_transformer_gives_the_padded_states_and_gradients(exchange_start):
    torch.manual_seed(0)
    packed = _without_dropout(CrossTransformer(16, 2, layers=4, ffn=32, theta=0.5, mu=1, eta=3,
                                               exchange_start=exchange_start)).double()
    padded = _without_dropout(CrossTransformer(16, 2, layers=4, ffn=32, theta=0.5, mu=1, eta=3,
                                               exchange_start=exchange_start, pack_tokens=False)).double()
    padded.load_state_dict(packed.state_dict())
    text_mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] * 2 + [0] * 5]).bool()
    image_mask = torch.tensor([[1] * 5, [0] * 5, [1] * 5]).bool()  # the second sample has no image
    inputs = [torch.randn(3, 7, 16, dtype=torch.float64), torch.randn(3, 5, 16, dtype=torch.float64)]
    seen = []
    packed.layers[0].ffn[0].register_forward_hook(lambda m, i, o: seen.append(i[0].shape))
    outputs = packed(inputs[0], text_mask, inputs[1], image_mask)
    reference = padded(inputs[0], text_mask, inputs[1], image_mask)
    assert seen == [(int(text_mask.sum()) + 3, 16), (int(image_mask.sum()) + 3, 16)]  # real tokens and the cls
    weights = [torch.randn(out.shape, dtype=torch.float64) for out in outputs]
    for states, expected, mask, weight in zip(outputs, reference, (text_mask, image_mask), weights):
        real = torch.cat([torch.ones(3, 1, dtype=torch.bool), mask], dim=1)
        torch.testing.assert_close(states[real], expected[real], rtol=1e-10, atol=1e-12)
        assert states[~real].abs().max() == 0  # padding comes back as zeros
        (states[real] * weight[real]).sum().backward(retain_graph=True)
        (expected[real] * weight[real]).sum().backward(retain_graph=True)
    for (name, parameter), other in zip(packed.named_parameters(), padded.parameters()):
        torch.testing.assert_close(parameter.grad, other.grad, rtol=1e-9, atol=1e-12, msg=name)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("packed")
    return ["encoder=tiny", "logger=none", f"output_dir={root}/run", f"cache_root={root}/cache", "trainer=cpu",
            "dataset.synthetic.train=16", "dataset.synthetic.val=8", "dataset.synthetic.test=8", "data.batch_size=8",
            "data.num_workers=0"]


def _loss_and_gradients(model, batch):
    model.zero_grad(set_to_none=True)
    torch.manual_seed(0)  # MuSE's regularisers draw noise (Eq. 3-4): the same draws both ways
    loss = model.training_step(batch, 0)
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("fusion, task", [(f, t) for f in FUSIONS for t in TASKS])
def test_every_method_gets_the_padded_loss_and_gradients_from_packed_tokens(small, fusion, task):
    parts = assemble(compose_config([*small, f"fusion={fusion}", f"task={task}"]))
    model = _without_dropout(parts.model).train().double()
    batch = next(iter(parts.datamodule.train_dataloader()))
    batch = {k: v.double() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in batch.items()}
    assert not batch["attention_mask"].bool().all()  # the batch has padding to skip
    packing = [m for m in model.modules() if isinstance(m, (TextEncoder, CrossTransformer))]
    assert any(isinstance(m, TextEncoder) for m in packing) and all(m.pack_tokens for m in packing)
    assert (fusion == "muse") == any(isinstance(m, CrossTransformer) for m in packing)
    last_layer_rows = []
    model.method.text.model.encoder.layer[-1].intermediate.dense.register_forward_hook(
        lambda m, i, o: last_layer_rows.append(i[0].shape[:-1].numel()))
    loss, gradients = _loss_and_gradients(model, batch)
    positions = model.method.task.positions_read(batch)
    read = torch.zeros_like(batch["attention_mask"]).bool().scatter_(1, positions, True)
    expected_rows = int(read.sum()) if fusion in READ_BY_HEAD else int(batch["attention_mask"].sum())
    assert last_layer_rows[0] == expected_rows  # the head's tokens only where the states go to it token by token
    for module in packing:
        module.pack_tokens = False
    padded_loss, padded_gradients = _loss_and_gradients(model, batch)
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss, padded_loss, rtol=1e-9, atol=1e-12)
    assert gradients.keys() == padded_gradients.keys()
    assert any(name.startswith("method.text.") for name in gradients)
    for name, gradient in gradients.items():
        torch.testing.assert_close(gradient, padded_gradients[name], rtol=1e-7, atol=1e-10, msg=name)
