"""What a task tells the shared datamodule and LightningModule.

A task owns its label vocabulary, the per-example targets the datamodule collates, the
head (loss and decoding) the LightningModule puts on top of the fused states, its
torchmetrics Metric and the readable form of a prediction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn
from torchmetrics import Metric

from fusionlab.data.encoding import Encoded
from fusionlab.data.example import Example


class TaskHead(nn.Module, ABC):
    @abstractmethod
    def loss(self, states: torch.Tensor, batch: dict) -> torch.Tensor: ...

    @abstractmethod
    def decode(self, states: torch.Tensor, batch: dict) -> list: ...


class Task(ABC):
    name: str
    monitor: str = "f1"  # the validation metric that picks the best checkpoint
    special_tokens: tuple[str, ...] = ()

    def __init__(self, dropout: float = 0.1):
        self.dropout = dropout

    @abstractmethod
    def fit(self, examples: list[Example]) -> None:
        """Fix the label vocabulary from the dataset's examples."""

    def words(self, example: Example) -> list[str]:
        return example.words

    @abstractmethod
    def targets(self, example: Example, encoded: Encoded) -> dict:
        """The example's training targets, cut to the words the tokenizer kept."""

    @abstractmethod
    def collate(self, items: list[dict], width: int) -> dict:
        """Batch the targets; ``width`` is the padded number of words."""

    @abstractmethod
    def head(self, hidden: int) -> TaskHead: ...

    @abstractmethod
    def metric(self) -> Metric: ...

    @abstractmethod
    def score(self, metric: Metric, predictions: list, batch: dict) -> None:
        """Update ``metric`` with predictions against the full, untruncated gold."""

    @abstractmethod
    def readable(self, example: Example, prediction) -> dict:
        """A prediction dump row: words, gold and predicted."""


def word_states(states: torch.Tensor, word_index: torch.Tensor) -> torch.Tensor:
    """Gather the state of each word's first sub-token: [B, n, D] -> [B, W, D]."""
    return states.gather(1, word_index.unsqueeze(-1).expand(-1, -1, states.size(-1)))
