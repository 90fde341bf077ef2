"""MSA's output side: accuracy, macro and weighted F1; label dumps and the label of a new input."""

from __future__ import annotations

import torch
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from fusionlab.tasks.msa.targets import LabelTargets
from fusionlab.tasks.output import Output
from fusionlab.tasks.targets import UNSEEN


class LabelOutput(Output):
    def __init__(self, data: LabelTargets):
        self.data = data

    def metric(self):
        """One class more than the head predicts: the gold of labels unseen in training (a class with
        no gold and no prediction does not enter the macro average). Weighted F1 (per-class F1 weighted
        by gold support, sklearn's ``average="weighted"``) is what MuSE reports for MVSA."""
        n = len(self.data.labels) + 1
        return MetricCollection({"accuracy": MulticlassAccuracy(n, average="micro"),
                                 "macro_f1": MulticlassF1Score(n, average="macro"),
                                 "weighted_f1": MulticlassF1Score(n, average="weighted")})

    def score(self, metric, predictions, batch):
        gold = batch["label"].masked_fill(batch["label"] == UNSEEN, len(self.data.labels))
        metric.update(torch.tensor(predictions, device=gold.device), gold)

    def readable(self, example, prediction):
        return {"words": example.words, "gold": example.label, "predicted": self.data.labels[prediction]}

    def prediction(self, example, prediction, confidence=None):
        """The label; with ``confidence``, its ``probability`` and every label's."""
        if confidence is None:
            return {"label": self.data.labels[prediction]}
        return {"label": self.data.labels[prediction], "probability": confidence[prediction],
                "probabilities": dict(zip(self.data.labels, confidence))}
