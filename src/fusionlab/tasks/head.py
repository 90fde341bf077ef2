"""A task's head: the loss and decoding the LightningModule puts on top of the fused states."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn


class TaskHead(nn.Module, ABC):
    @abstractmethod
    def loss(self, states: torch.Tensor, batch: dict) -> torch.Tensor: ...

    @abstractmethod
    def decode(self, states: torch.Tensor, batch: dict) -> list: ...

    @abstractmethod
    def evidence(self, states: torch.Tensor, batch: dict) -> dict[str, torch.Tensor]:
        """The head's predicted distributions, one [B, n, k] tensor per output (``Task.outputs``),
        at every token position: a word's prediction sits at its first sub-token (zeros elsewhere);
        a sentence-level prediction is repeated at every position. PMEI's early predictions y'."""


def word_states(states: torch.Tensor, word_index: torch.Tensor) -> torch.Tensor:
    """Gather the state of each word's first sub-token: [B, n, D] -> [B, W, D]."""
    return states.gather(1, word_index.unsqueeze(-1).expand(-1, -1, states.size(-1)))


def spread_words(values: torch.Tensor, batch: dict, length: int) -> torch.Tensor:
    """Place word-level values [B, W, k] at their words' first sub-tokens: [B, length, k], zeros elsewhere
    (padded words, which point at position 0, are zeroed first)."""
    values = values * batch["word_mask"].unsqueeze(-1).to(values.dtype)
    spread = values.new_zeros(values.size(0), length, values.size(-1))
    return spread.scatter_add(1, batch["word_index"].unsqueeze(-1).expand_as(values), values)


def repeat_sentence(values: torch.Tensor, length: int) -> torch.Tensor:
    """A sentence-level prediction [B, k] at every token position: [B, length, k]."""
    return values.unsqueeze(1).expand(-1, length, -1)
