"""Dropout masks from random bits (``encoders/dropout.py``, ``performance.random_bits_dropout``): PyTorch's
dropout in distribution (p to within 2^-17) and scale, its attention dropout unbiased, and in place of every
``nn.Dropout`` of a built model, the text encoder's included."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from fusionlab.encoders import dropout as random_bits
from fusionlab.encoders.dropout import Dropout, attention, dropout, dropped_fraction, keep_mask, use_random_bits_dropout
from fusionlab.encoders.text import text_encoder
from fusionlab.run.performance import apply_performance
from fusionlab.train import assemble
from tests.conftest import compose_config


def built_model(fusion: str, tmp_path) -> nn.Module:
    """A ``FusionModel`` of ``fusion`` on tiny encoders, as training builds it."""
    return assemble(compose_config([f"fusion={fusion}", "encoder=tiny", "logger=none", f"output_dir={tmp_path}/run",
                                    f"cache_root={tmp_path}/cache", "dataset.synthetic.train=8",
                                    "dataset.synthetic.val=4", "dataset.synthetic.test=4"])).model


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_each_element_is_dropped_with_probability_p_independently(p):
    torch.manual_seed(0)
    count = 4_000_000
    dropped = ~keep_mask(torch.Size([count]), p)
    q = dropped_fraction(p)
    assert abs(q - p) <= 2**-17
    sigma = math.sqrt(q * (1 - q) / count)
    assert abs(dropped.double().mean().item() - q) < 5 * sigma
    # the four elements one 64-bit word gives, and neighbouring words: pairs dropped together q^2 of the time
    for offset in (1, 2, 3, 4):
        both = (dropped[:-offset] & dropped[offset:]).double().mean().item()
        assert abs(both - q * q) < 5 * math.sqrt(q * q * (1 - q * q) / count), offset


def test_dropout_scales_the_kept_elements_and_passes_the_gradient_through_them():
    torch.manual_seed(0)
    x = torch.randn(300, 200, requires_grad=True)
    y = dropout(x, 0.5)  # q = p exactly: the scale is PyTorch's 1 / (1 - p)
    kept = y != 0
    assert 0.48 < kept.float().mean() < 0.52
    torch.testing.assert_close(y[kept], x[kept] * 2, rtol=0, atol=0)
    y.sum().backward()
    torch.testing.assert_close(x.grad, kept.float() * 2, rtol=0, atol=0)
    halves = torch.randn(64, 64, dtype=torch.bfloat16)
    dropped = dropout(halves, 0.1)
    kept = dropped != 0
    assert dropped.dtype == torch.bfloat16 and 0.8 < kept.float().mean() < 0.97
    assert torch.equal(dropped[kept], halves[kept] * torch.tensor(1 / (1 - dropped_fraction(0.1)), dtype=torch.bfloat16))


def test_the_seed_decides_the_masks():
    torch.manual_seed(3)
    first, second = keep_mask(torch.Size([1000]), 0.5), keep_mask(torch.Size([1000]), 0.5)
    torch.manual_seed(3)
    assert torch.equal(keep_mask(torch.Size([1000]), 0.5), first)
    assert not torch.equal(first, second)


def test_evaluation_p_zero_and_pytorchs_modules_put_back_give_pytorchs_dropout():
    x = torch.randn(50, 50)
    assert torch.equal(dropout(x, 0.5, training=False), x)
    assert torch.equal(dropout(x, 0.0), x)
    assert torch.equal(Dropout(0.5).eval()(x), x)
    model = use_random_bits_dropout(nn.Sequential(nn.Dropout(0.5), nn.Dropout2d(0.5), nn.Dropout(0.5, inplace=True)))
    assert [type(m) for m in model] == [Dropout, nn.Dropout2d, nn.Dropout]  # exactly nn.Dropout, not in place
    use_random_bits_dropout(model, enabled=False)
    assert [type(m) for m in model] == [nn.Dropout, nn.Dropout2d, nn.Dropout] and model[0].p == 0.5
    torch.manual_seed(1)
    ours = model[0](x)
    torch.manual_seed(1)
    assert torch.equal(ours, F.dropout(x, 0.5))


def test_attention_is_sdpa_with_its_probabilities_dropped_unbiased(monkeypatch):
    torch.manual_seed(0)
    query, key, value = (torch.randn(2, 3, 5, 8, dtype=torch.float64) for _ in range(3))
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)[:, None, None, :]
    exact = F.scaled_dot_product_attention(query, key, value, attn_mask=mask)
    draws = torch.stack([attention(query, key, value, mask, dropout_p=0.3) for _ in range(4000)])
    assert not torch.allclose(draws[0], exact)
    torch.testing.assert_close(draws.mean(dim=0), exact, rtol=0, atol=0.05)  # unbiased: 1/(1-q) scaling
    torch.manual_seed(4)
    pytorchs = attention(query, key, value, mask, dropout_p=0.3, random_bits=False)
    torch.manual_seed(4)
    assert torch.equal(pytorchs, F.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=0.3))
    monkeypatch.setattr(random_bits, "dropout", lambda x, p, training=True: x)  # the formula around the dropout
    torch.testing.assert_close(attention(query, key, value, mask, dropout_p=0.3), exact, rtol=1e-12, atol=1e-12)
    halves = [t.bfloat16() for t in (query, key, value)]  # computed in float32, as SDPA's reference computes
    in_float32 = F.scaled_dot_product_attention(*(t.float() for t in halves), attn_mask=mask)
    ours = attention(*halves, mask, dropout_p=0.3)
    assert ours.dtype == torch.bfloat16
    torch.testing.assert_close(ours.float(), in_float32.bfloat16().float(), rtol=2**-8, atol=2**-12)


@pytest.mark.parametrize("pack_tokens", [True, False])
def test_the_text_encoder_attends_through_it_in_training(monkeypatch, pack_tokens):
    """BERT's attention dropout goes through ``attention``: with the masks made to keep everything, training
    computes what evaluation does (padded batch, packed or not)."""
    torch.manual_seed(0)
    encoder = use_random_bits_dropout(text_encoder("tiny", pack_tokens=pack_tokens)).double()
    encoder.model.set_attn_implementation("fusionlab")
    ids = torch.randint(1000, 2000, (3, 7), generator=torch.Generator().manual_seed(0))
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] * 2 + [0] * 5])
    expected = encoder.eval()(ids, mask)
    dropped = []
    monkeypatch.setattr(random_bits, "dropout", lambda x, p, training=True: dropped.append(x.shape) or x)
    states = encoder.train()(ids, mask)
    assert any(len(shape) == 4 for shape in dropped)  # attention probabilities [B, heads, L, L]
    real = mask.bool()
    torch.testing.assert_close(states[real], expected[real], rtol=1e-10, atol=1e-12)


def test_kept_elements_are_scaled_for_the_fraction_actually_dropped():
    torch.manual_seed(0)
    p = 0.1 + 2**-18  # q = round(p * 2^16) / 2^16 differs from p
    x = torch.ones(100_000, dtype=torch.float64)
    y = dropout(x, p)
    torch.testing.assert_close(y[y != 0], x[y != 0] / (1 - dropped_fraction(p)), rtol=1e-15, atol=0)
    tiny = 2**-18  # q rounds to 0: PyTorch's dropout, which drops with probability p itself
    assert dropped_fraction(tiny) == 0
    torch.manual_seed(2)
    ours = dropout(x, tiny)
    torch.manual_seed(2)
    assert torch.equal(ours, F.dropout(x, tiny))


def test_a_built_model_drops_through_random_bits_everywhere(tmp_path):
    model = built_model("hvpnet", tmp_path)
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert dropouts and all(type(m) is Dropout for m in dropouts)
    text = model.method.text.model
    assert any(m.p > 0 for m in text.modules() if isinstance(m, Dropout))  # BERT's hidden and attention dropout
    assert text.config._attn_implementation == "fusionlab"  # its attention probabilities drop through ``attention``


def test_the_run_setting_puts_pytorchs_dropout_back(tmp_path):
    model = built_model("muse", tmp_path)
    apply_performance(model, retain_freed_memory=False, random_bits_dropout=False)
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert dropouts and all(type(m) is nn.Dropout for m in dropouts)  # MuSE's exchange layers' included
    apply_performance(model, retain_freed_memory=False)
    assert all(type(m) is Dropout for m in model.modules() if isinstance(m, nn.Dropout))  # the default
