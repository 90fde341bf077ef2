"""Multimodal sentiment / sentence classification: [CLS] -> dropout -> Linear; accuracy, macro and weighted F1."""

from __future__ import annotations

from fusionlab.tasks.base import Task
from fusionlab.tasks.msa.head import SentenceClassifier
from fusionlab.tasks.msa.output import LabelOutput
from fusionlab.tasks.msa.targets import LabelTargets


class MsaTask(Task):
    name = "msa"
    monitor = "accuracy"

    def __init__(self, dropout: float = 0.1):
        data = LabelTargets()
        super().__init__(data, LabelOutput(data), dropout)

    def head(self, hidden):
        return SentenceClassifier(hidden, len(self.data.labels), self.dropout)

    def outputs(self):
        return {"label": len(self.data.labels)}

    def positions_read(self, batch):
        """[CLS]."""
        return batch["input_ids"].new_zeros(batch["input_ids"].size(0), 1)
