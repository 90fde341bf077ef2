"""MSA's data side: one label per sentence, over the labels seen in training."""

from __future__ import annotations

from dataclasses import replace

import torch

from fusionlab.tasks.targets import UNSEEN, Targets


class LabelTargets(Targets):
    vocabulary_keys = ("labels",)

    def labels_of(self, examples):
        return {"labels": {e.label for e in examples}}

    def targets(self, example, encoded):
        """A label unseen in training gets ``UNSEEN``: no loss, and a miss for the metrics."""
        return {"label": self.labels.index(example.label) if example.label in self.labels else UNSEEN}

    def collate(self, items, width):
        return {"label": torch.tensor([i["label"] for i in items])}

    def sentence_labels(self, batch):
        return batch["label"]

    def unlabeled(self, example):
        return replace(example, label=self.labels[0])
