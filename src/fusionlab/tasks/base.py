"""What a task is: its data side, its head and its output side, composed.

The data side (``Targets``) owns the label vocabulary and the per-example targets the shared
datamodule collates; the head (``TaskHead``) is the loss and decoding the LightningModule puts on
top of the fused states; the output side (``Output``) is the torchmetrics Metric and the readable
form of a prediction. ``Task`` answers for all three, so the datamodule, the LightningModule and
predict read one object.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torchmetrics import Metric

from fusionlab.data.encoding import Encoded
from fusionlab.data.example import Example
from fusionlab.tasks.head import TaskHead
from fusionlab.tasks.output import Output
from fusionlab.tasks.targets import Targets


class Task(ABC):
    name: str
    monitor: str = "f1"  # the validation metric that picks the best checkpoint

    def __init__(self, data: Targets, output: Output, dropout: float = 0.1):
        self.data, self.output, self.dropout = data, output, dropout

    @abstractmethod
    def head(self, hidden: int) -> TaskHead: ...

    @abstractmethod
    def outputs(self) -> dict[str, int]:
        """What the head predicts: output name -> number of classes (after ``fit``)."""

    # --- the data side (what ``fusionlab.data.task.DataTask`` names, and more) ------------------
    @property
    def special_tokens(self) -> tuple[str, ...]:
        return self.data.special_tokens

    @property
    def vocabulary_keys(self) -> tuple[str, ...]:
        return self.data.vocabulary_keys

    @property
    def fitted(self) -> bool:
        return self.data.fitted

    def fit(self, examples: list[Example]) -> None:
        self.data.fit(examples)

    def labels_of(self, examples: list[Example]) -> dict[str, set]:
        return self.data.labels_of(examples)

    def vocabulary(self) -> dict[str, list]:
        return self.data.vocabulary()

    def load_vocabulary(self, vocabulary: dict[str, list]) -> None:
        self.data.load_vocabulary(vocabulary)

    def unseen_labels(self, examples: list[Example]) -> dict[str, int]:
        return self.data.unseen_labels(examples)

    def words(self, example: Example) -> list[str]:
        return self.data.words(example)

    def target_cut(self, example: Example, encoded: Encoded) -> bool:
        return self.data.target_cut(example, encoded)

    def targets(self, example: Example, encoded: Encoded) -> dict:
        return self.data.targets(example, encoded)

    def collate(self, items: list[dict], width: int) -> dict:
        return self.data.collate(items, width)

    def sentence_labels(self, batch: dict) -> torch.Tensor:
        return self.data.sentence_labels(batch)

    def unlabeled(self, example: Example) -> Example:
        return self.data.unlabeled(example)

    # --- the output side -----------------------------------------------------------------------
    def metric(self) -> Metric:
        return self.output.metric()

    def score(self, metric: Metric, predictions: list, batch: dict) -> None:
        self.output.score(metric, predictions, batch)

    def readable(self, example: Example, prediction) -> dict:
        return self.output.readable(example, prediction)

    def prediction(self, example: Example, prediction) -> dict:
        return self.output.prediction(example, prediction)
