"""A task's head: the loss and decoding the LightningModule puts on top of the fused states."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol, runtime_checkable

import torch
from torch import nn
from torch.nn import functional as F


class TaskHead(nn.Module, ABC):
    """A head's forward pass gives its raw outputs (logits, emissions); the loss and the decoded predictions
    (and, for an ``EvidenceHead``, the evidence) are read from them, so one pass can give several."""

    @abstractmethod
    def forward(self, states: torch.Tensor, batch: dict): ...

    @abstractmethod
    def loss_of(self, outputs, batch: dict) -> torch.Tensor: ...

    @abstractmethod
    def decode_of(self, outputs, batch: dict) -> list: ...

    def loss(self, states, batch: dict) -> torch.Tensor:
        return self.loss_of(self(states, batch), batch)

    def decode(self, states, batch: dict) -> list:
        return self.decode_of(self(states, batch), batch)

    def decode_with_confidence(self, states, batch: dict) -> tuple[list, list]:
        """The predictions and, per example, the probabilities a prediction is read with (``confidence_of``)."""
        outputs = self(states, batch)
        decoded = self.decode_of(outputs, batch)
        return decoded, self.confidence_of(outputs, batch, decoded)

    @abstractmethod
    def confidence_of(self, outputs, batch: dict, decoded: list) -> list:
        """Per example, the probabilities its task's output reads its prediction's scores from."""


@runtime_checkable
class EvidenceHead(Protocol):
    """What a head may also give (PMEI's early classifiers must): its predicted distributions."""

    def evidence_of(self, outputs, batch: dict, length: int) -> dict[str, torch.Tensor]:
        """One [B, length, k] tensor per output (``Task.outputs``), at every token position: a word's
        prediction sits at its first sub-token (zeros elsewhere); a sentence-level prediction is repeated
        at every position. PMEI's early predictions y'."""


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

    def forward(self, states, batch):
        return self.classify(self.dropout(self.features(states, batch)))  # logits [B, labels]

    def loss_of(self, logits, batch):
        return F.cross_entropy(logits, batch[self.output])

    def decode_of(self, logits, batch):
        return logits.argmax(-1).tolist()

    def confidence_of(self, logits, batch, decoded):
        """Each label's softmax probability."""
        return logits.softmax(-1).tolist()

    def evidence_of(self, logits, batch, length):
        return {self.output: repeat_sentence(logits.softmax(-1), length)}


def token_count(states) -> int:
    """The token positions of fused states [B, n, D] (or of the first of a task-specific pair)."""
    return (states[0] if isinstance(states, tuple) else states).size(1)


def word_states(states: torch.Tensor, word_index: torch.Tensor) -> torch.Tensor:
    """Gather the state of each word's first sub-token: [B, n, D] -> [B, W, D]."""
    return states.gather(1, word_index.unsqueeze(-1).expand(-1, -1, states.size(-1)))


def mean_of_words(states: torch.Tensor, batch: dict) -> torch.Tensor:
    """The mean over a sentence's words of their first sub-tokens' states: [B, n, D] -> [B, D]."""
    mask = batch["word_mask"][..., None].to(states.dtype)
    return (word_states(states, batch["word_index"]) * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def spread_words(values: torch.Tensor, batch: dict, length: int) -> torch.Tensor:
    """Place word-level values [B, W, k] at their words' first sub-tokens: [B, length, k], zeros elsewhere
    (padded words, which point at position 0, are zeroed first)."""
    values = values * batch["word_mask"].unsqueeze(-1).to(values.dtype)
    spread = values.new_zeros(values.size(0), length, values.size(-1))
    return spread.scatter_add(1, batch["word_index"].unsqueeze(-1).expand_as(values), values)


def repeat_sentence(values: torch.Tensor, length: int) -> torch.Tensor:
    """A sentence-level prediction [B, k] at every token position: [B, length, k]."""
    return values.unsqueeze(1).expand(-1, length, -1)
