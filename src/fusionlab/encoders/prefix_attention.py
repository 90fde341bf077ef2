"""Prefix attention for Hugging Face encoders (HVPNeT Eq. 9), through transformers' AttentionInterface.

``enable_prefix_attention(model)`` switches a model to the registered ``fusionlab`` attention function (which
also attends packed tokens sentence by sentence: ``encoders/packing.py``). A forward call given
``visual_prefix=VisualPrefix(...)`` then computes, in every self-attention layer l and per head,

    softmax(Q [phi_k^l; K]^T / sqrt(d_head)) [phi_v^l; V]

with scaled dot-product attention (``encoders/dropout.attention``: SDPA, its attention dropout drawn from
random bits on CPU where the layer's ``dropout`` module is ``encoders/dropout.Dropout``): the layer's own
q/k/v projections (pretrained weights, unchanged) make Q, K, V; the prefix keys/values are only prepended. The
text's attention mask is extended with the prefix mask (shared by the heads, or one per head), so a masked prefix
token (a missing crop) receives no attention. Without ``visual_prefix`` the function is plain attention:
``encoders/dropout.attention`` where ``plain_attention`` says it computes what the layer asks, transformers' SDPA
function for any other.

No file of the transformers model is forked: any model whose self-attention goes through
the AttentionInterface and knows its ``layer_idx`` works (the BERT family, RoBERTa, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from fusionlab.encoders.dropout import Dropout, attention
from fusionlab.encoders.packing import PackedTokens

IMPLEMENTATION = "fusionlab"


@dataclass
class VisualPrefix:
    keys: Sequence[torch.Tensor]  # one [B, heads, P, d_head] per layer
    values: Sequence[torch.Tensor]  # one [B, heads, P, d_head] per layer
    mask: torch.Tensor  # [B, P] or per head [B, heads, P], True where the prefix token may be attended


def plain_attention(module: nn.Module, attention_mask: torch.Tensor | None, options: dict) -> bool:
    """Whether a layer's attention is softmax(Q K^T) V with a boolean mask or none and nothing else
    (non-causal, every head its own keys, no position bias or soft cap), which ``attention`` computes; any
    other goes to transformers' SDPA function."""
    return (not getattr(module, "is_causal", True) and not options.get("is_causal")
            and getattr(module, "num_key_value_groups", 1) == 1
            and options.get("position_bias") is None and options.get("softcap") is None
            and (attention_mask is None or attention_mask.dtype == torch.bool))


def prefix_attention(module: nn.Module, query, key, value, attention_mask, scaling=None, dropout=0.0,
                     visual_prefix: VisualPrefix | None = None, packed_tokens: PackedTokens | None = None, **kwargs):
    """Eq. 9 for one layer; ``attention_mask`` is the text's boolean SDPA mask (or None: no padding).
    With ``packed_tokens``, the tokens arrive packed and attend within their own sentence."""
    if packed_tokens is not None:
        def padded_attention(q, k, v, mask):
            return prefix_attention(module, q, k, v, mask, scaling, dropout, visual_prefix, **kwargs)

        return packed_tokens.attend(padded_attention, query, key, value, attention_mask)
    random_bits = isinstance(getattr(module, "dropout", None), Dropout)
    if visual_prefix is None:
        if not plain_attention(module, attention_mask, kwargs):
            return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling,
                                          dropout=dropout, **kwargs)
        output = attention(query, key, value, attention_mask, dropout, scaling, random_bits)
        return output.transpose(1, 2).contiguous(), None
    layer = module.layer_idx
    prefix_keys, prefix_values = visual_prefix.keys[layer], visual_prefix.values[layer]
    batch, _, n_query, _ = query.shape
    n_prefix, n_text = prefix_keys.size(2), key.size(2)
    mask = visual_prefix.mask
    mask = (mask[:, None] if mask.dim() == 2 else mask)[:, :, None, :]  # [B, 1 or heads, 1, P]
    heads = mask.size(1)
    prefix_mask = mask.expand(batch, heads, n_query, n_prefix)
    if attention_mask is None:
        text_mask = torch.ones(batch, heads, n_query, n_text, dtype=torch.bool, device=query.device)
    else:
        text_mask = attention_mask.bool().expand(batch, heads, n_query, n_text)
    output = attention(query, torch.cat([prefix_keys.to(key.dtype), key], dim=2),
                       torch.cat([prefix_values.to(value.dtype), value], dim=2),
                       torch.cat([prefix_mask, text_mask], dim=-1), dropout, scaling, random_bits)
    return output.transpose(1, 2).contiguous(), None


AttentionInterface.register(IMPLEMENTATION, prefix_attention)
AttentionMaskInterface.register(IMPLEMENTATION, sdpa_mask)  # the text mask arrives in SDPA's boolean form


def enable_prefix_attention(model: nn.Module) -> None:
    """Route ``model``'s self-attention through ``prefix_attention``; fail clearly where that cannot work."""
    if not getattr(model, "_supports_attention_backend", False):
        raise ValueError(f"{type(model).__name__} does not use transformers' AttentionInterface, so a visual prefix "
                         "cannot join its attention; use a BERT-family encoder (bert-base-uncased, minilm, tiny)")
    attentions = [m for name, m in model.named_modules() if name.endswith("attention.self")]
    if not attentions or any(getattr(m, "layer_idx", None) is None for m in attentions):
        raise ValueError(f"{type(model).__name__}'s self-attention modules do not know their layer index; "
                         "a per-layer prefix needs it")
    model.set_attn_implementation(IMPLEMENTATION)
