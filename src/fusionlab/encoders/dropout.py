"""Dropout whose masks come from random bits: PyTorch's dropout in all but how its masks are drawn on CPU.

PyTorch's CPU dropout draws one Bernoulli sample per element (``bernoulli_``), a cost ``make bench`` shows in the
profiles of ``docs/benchmarks.md``. Here each element takes 16 of the random bits that ``random_`` draws over
int64 words (one word for four elements, from the same seeded CPU generator) and is dropped where its 16-bit
integer, uniform over [-2^15, 2^15), is below -2^15 + round(p * 2^16): with probability
q = round(p * 2^16) / 2^16, which is p to within 2^-17 (0.1 becomes 0.100006; 0.5 stays 0.5). Kept elements are
scaled by 1 / (1 - q), as PyTorch's are by 1 / (1 - p), so that the expectation is the input (in bf16 the scale
rounds to bf16, as PyTorch's does). A step therefore draws other masks than PyTorch's dropout would under the
same seed, from the same distribution but for that rounding.

``Dropout`` is the module: ``use_random_bits_dropout(model)`` puts it in place of every ``nn.Dropout`` of a model
(``FusionModel`` does so for all of its own, the text encoder's included; ``performance.random_bits_dropout=false``
puts PyTorch's back: ``fusionlab.run.performance``). ``attention`` is scaled dot-product attention whose
attention-probability dropout, for a module that drops through ``Dropout``, draws its masks so: PyTorch's CPU
``scaled_dot_product_attention`` computes attention with dropout by its reference formula anyway (scores in
float32, softmax, dropout, values), and so does ``attention``, with these masks. The choice lives on the modules,
so it travels with the model into spawned processes. Off CPU (CUDA's fused dropout draws cheaply), in evaluation
and where q is 0 or 1, all of it is PyTorch's own.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from fusionlab.encoders.swap import swap_modules

REDUCED_PRECISION = (torch.bfloat16, torch.float16)  # attention computes these in float32, as SDPA's reference does


def dropped_fraction(p: float) -> float:
    """The probability with which ``keep_mask`` drops an element: p rounded to a multiple of 2^-16."""
    return round(p * 2**16) / 2**16


def draws_random_bits(x: torch.Tensor, p: float) -> bool:
    """Whether dropping ``x`` at rate ``p`` in training draws from random bits (on CPU, 0 < q < 1)."""
    return x.device.type == "cpu" and 0.0 < dropped_fraction(p) < 1.0


def keep_mask(shape: torch.Size, p: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """A boolean mask of ``shape``, each element False (dropped) with probability ``dropped_fraction(p)``."""
    count = shape.numel()
    words = torch.empty((count + 3) // 4, dtype=torch.int64, device=device).random_(-2**63, None)
    return words.view(torch.int16)[:count].view(shape) >= -2**15 + round(p * 2**16)


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``F.dropout(x, p, training)`` with its mask drawn by ``keep_mask`` on CPU."""
    if not (training and draws_random_bits(x, p)):
        return F.dropout(x, p, training)
    keep = keep_mask(x.shape, p, x.device)
    scale = 1.0 / (1.0 - dropped_fraction(p))  # unbiased for the fraction actually dropped
    return x * keep.view(torch.uint8).to(x.dtype).mul_(scale)  # uint8 converts on a fast path, bool does not


class Dropout(nn.Dropout):
    """``nn.Dropout`` (not in place) drawing its masks by ``keep_mask`` on CPU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)


def use_random_bits_dropout(model: nn.Module, enabled: bool = True) -> nn.Module:
    """Put ``Dropout`` in place of every ``nn.Dropout`` of ``model`` that is not in place (exactly that class:
    ``nn.Dropout2d`` and kin stay), with the same p; with ``enabled=False``, PyTorch's back in place of ours."""
    replaced, replacement = (nn.Dropout, Dropout) if enabled else (Dropout, nn.Dropout)
    return swap_modules(model, lambda child: replacement(child.p)
                        if type(child) is replaced and not child.inplace else None)


def attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None,
              dropout_p: float = 0.0, scale: float | None = None, random_bits: bool = True) -> torch.Tensor:
    """``F.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=dropout_p, scale=scale)``
    for a boolean ``mask`` (True: may attend); with dropout on CPU and ``random_bits``, the attention
    probabilities are dropped by ``dropout``, the rest computed as SDPA's reference formula computes it (in
    float32 for bf16 or fp16 inputs). Every query must be allowed at least one key (a row with none would be
    NaN, where SDPA gives 0)."""
    if not (random_bits and draws_random_bits(query, dropout_p)):
        return F.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=dropout_p, scale=scale)
    with torch.autocast(query.device.type, enabled=False):
        q, k, v = (t.float() if t.dtype in REDUCED_PRECISION else t for t in (query, key, value))
        scores = (q * (q.size(-1) ** -0.5 if scale is None else scale)) @ k.transpose(-2, -1)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        return (dropout(scores.softmax(dim=-1), dropout_p) @ v).to(query.dtype)
