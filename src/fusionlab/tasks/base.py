"""What a task is: its data side, its head and its output side, composed.

The data side (``Targets``) owns the label vocabulary and the per-example targets the shared
datamodule collates; the head (``TaskHead``) is the loss and decoding the LightningModule puts on
top of the fused states; the output side (``Output``) is the torchmetrics Metric and the readable
form of a prediction. A ``Task`` holds the three: callers ask its parts (``task.data``, ``task.head(...)``,
``task.output``), and the task itself answers what a method may ask of it without naming it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from fusionlab.tasks.head import TaskHead
from fusionlab.tasks.output import Output
from fusionlab.tasks.targets import Targets


class Task(ABC):
    name: str
    monitor: str = "f1"  # the validation metric that picks the best checkpoint
    loss_sums_words: bool = False  # whether the head's loss sums over a sentence's words (a tagger's)

    def __init__(self, data: Targets, output: Output, dropout: float = 0.1):
        self.data, self.output, self.dropout = data, output, dropout

    @abstractmethod
    def head(self, hidden: int) -> TaskHead: ...

    @abstractmethod
    def outputs(self) -> dict[str, int]:
        """What the head predicts: output name -> number of classes (after ``fit``)."""

    def positions_read(self, batch: dict) -> torch.Tensor | None:
        """The token positions [B, n] at which the head and ``sentence_vector`` read the states; None: any. A
        method whose states go to the head token by token lets the text encoder skip the others
        (``FusionMethod.text_for_head``)."""
        return None

    def sentence_vector(self, states: torch.Tensor, batch: dict) -> torch.Tensor:
        """One vector per sentence [B, D'] read where the head reads the states (a probe's view, MASE's
        E-step): here [CLS]."""
        return states[:, 0]
