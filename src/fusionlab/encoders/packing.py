"""Packed tokens: a BERT-family encoder computes its real tokens only, not the batch's padding.

A padded batch [B, L] spends every linear layer, LayerNorm, activation and dropout of the encoder on its
padding too, and batches of tweets are padded to their longest one. Packed, the encoder runs on
[1, T], the batch's T real tokens one after another, each with the position id the padded batch gives it
(BERT's: its index in its sentence row). Only self-attention needs the sentences apart: ``attend`` scatters
the queries, keys and values back into [B, heads, L, d], attends with the padding masked (as the padded
model does, visual prefix included) and gathers the real tokens' outputs again.

The real tokens' states are the padded model's, to float rounding; padding positions come back as zeros,
where the padded model leaves states that the attention mask keeps out of every real token's. Dropout draws
its masks for T tokens instead of B x L, so a training step draws different masks from the same
distribution. ``subset`` picks out the tokens a task head reads, which the last layer computes alone where the
caller names them (``encoders/read_tokens.py``). ``encoder.text.pack_tokens`` turns both off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PackedTokens:
    mask: torch.Tensor  # [B, L] bool, True at the real tokens
    index: torch.Tensor  # [T]: where each real token sits in the flattened [B * L] batch

    @classmethod
    def of(cls, attention_mask: torch.Tensor) -> PackedTokens:
        mask = attention_mask.bool()
        return cls(mask, mask.flatten().nonzero().squeeze(1))

    def pack(self, padded: torch.Tensor) -> torch.Tensor:
        """[B, L, ...] -> [T, ...]: the real tokens, sentence after sentence."""
        return padded.flatten(0, 1).index_select(0, self.index)

    def unpack(self, packed: torch.Tensor) -> torch.Tensor:
        """[T, ...] -> [B, L, ...], zeros at the padding."""
        flat = packed.new_zeros(self.mask.numel(), *packed.shape[1:]).index_copy(0, self.index, packed)
        return flat.view(*self.mask.shape, *packed.shape[1:])

    def subset(self, positions: torch.Tensor) -> tuple[PackedTokens, torch.Tensor]:
        """The real tokens at ``positions`` [B, n] (indices into each row) packed on their own, and the rows of
        [T] (this packing) they sit at."""
        chosen = torch.zeros_like(self.mask).scatter_(1, positions, True) & self.mask
        return PackedTokens.of(chosen), chosen.flatten()[self.index].nonzero().squeeze(1)

    def position_ids(self) -> torch.Tensor:
        """[1, T]: each real token's index in its row, the position BERT gives it in the padded batch."""
        rows = torch.arange(self.mask.size(1), device=self.mask.device).expand_as(self.mask)
        return self.pack(rows)[None]

    def padding_mask(self) -> torch.Tensor:
        """[B, 1, 1, L], True at the keys a query may attend: the encoder's ``attention_mask``. Being 4-D, it
        passes through transformers as it is (no [T, T] mask over the packed tokens is built) to ``attend``."""
        return self.mask[:, None, None, :]

    def attend(self, attention: Callable, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
               mask: torch.Tensor):
        """Self-attention of packed [1, heads, T, d] queries, keys and values, sentence by sentence:
        ``attention(query, key, value, mask)`` runs on the padded [B, heads, L, d] ones with ``mask`` (the
        ``padding_mask``) and returns [B, L, heads, d] (transformers' layout); the result is [1, T, heads, d]."""
        def padded(x):  # [1, heads, T, d] -> [B, heads, L, d]
            return self.unpack(x[0].transpose(0, 1)).transpose(1, 2)

        output, _ = attention(padded(query), padded(key), padded(value), mask)
        return self.pack(output)[None], None
