"""Multimodal sentiment / sentence classification: [CLS] -> dropout -> Linear; accuracy, macro and weighted F1."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from fusionlab.tasks.base import UNSEEN, Task, TaskHead, repeat_sentence


class SentenceClassifier(TaskHead):
    def __init__(self, hidden: int, num_labels: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classify = nn.Linear(hidden, num_labels)

    def logits(self, states, batch):
        return self.classify(self.dropout(states[:, 0]))

    def loss(self, states, batch):
        return F.cross_entropy(self.logits(states, batch), batch["label"])

    def decode(self, states, batch):
        return self.logits(states, batch).argmax(-1).tolist()

    def evidence(self, states, batch):
        return {"label": repeat_sentence(self.logits(states, batch).softmax(-1), states.size(1))}


class MsaTask(Task):
    name = "msa"
    monitor = "accuracy"
    vocabulary_keys = ("labels",)

    def labels_of(self, examples):
        return {"labels": {e.label for e in examples}}

    def targets(self, example, encoded):
        """A label unseen in training gets ``UNSEEN``: no loss, and a miss for the metrics."""
        return {"label": self.labels.index(example.label) if example.label in self.labels else UNSEEN}

    def collate(self, items, width):
        return {"label": torch.tensor([i["label"] for i in items])}

    def head(self, hidden):
        return SentenceClassifier(hidden, len(self.labels), self.dropout)

    def outputs(self):
        return {"label": len(self.labels)}

    def sentence_labels(self, batch):
        return batch["label"]

    def metric(self):
        """One class more than the head predicts: the gold of labels unseen in training (a class with
        no gold and no prediction does not enter the macro average). Weighted F1 (per-class F1 weighted
        by gold support, sklearn's ``average="weighted"``) is what MuSE reports for MVSA."""
        n = len(self.labels) + 1
        return MetricCollection({"accuracy": MulticlassAccuracy(n, average="micro"),
                                 "macro_f1": MulticlassF1Score(n, average="macro"),
                                 "weighted_f1": MulticlassF1Score(n, average="weighted")})

    def score(self, metric, predictions, batch):
        gold = batch["label"].masked_fill(batch["label"] == UNSEEN, len(self.labels))
        metric.update(torch.tensor(predictions, device=gold.device), gold)

    def readable(self, example, prediction):
        return {"words": example.words, "gold": example.label, "predicted": self.labels[prediction]}

    def unlabeled(self, example):
        return replace(example, label=self.labels[0])

    def prediction(self, example, prediction):
        return {"label": self.labels[prediction]}
