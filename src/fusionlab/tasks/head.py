"""A task's head: the loss and decoding the LightningModule puts on top of the fused states."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn
from torch.nn import functional as F


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


class SingleLabelHead(TaskHead):
    """One label per sentence: ``features`` -> dropout -> Linear, cross-entropy, argmax.

    ``output`` names both the target in the batch and the head's evidence (``Task.outputs``);
    a subclass says only which states it reads.
    """

    def __init__(self, features_size: int, num_labels: int, dropout: float, output: str):
        super().__init__()
        self.output = output
        self.dropout = nn.Dropout(dropout)
        self.classify = nn.Linear(features_size, num_labels)

    @abstractmethod
    def features(self, states: torch.Tensor, batch: dict) -> torch.Tensor:
        """The sentence's vector [B, features_size] read from the fused states."""

    def logits(self, states, batch):
        return self.classify(self.dropout(self.features(states, batch)))

    def loss(self, states, batch):
        return F.cross_entropy(self.logits(states, batch), batch[self.output])

    def decode(self, states, batch):
        return self.logits(states, batch).argmax(-1).tolist()

    def evidence(self, states, batch):
        return {self.output: repeat_sentence(self.logits(states, batch).softmax(-1), states.size(1))}


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
