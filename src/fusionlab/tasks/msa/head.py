"""MSA's head: [CLS] -> dropout -> Linear."""

from __future__ import annotations

from fusionlab.tasks.head import SingleLabelHead


class SentenceClassifier(SingleLabelHead):
    def __init__(self, hidden: int, num_labels: int, dropout: float):
        super().__init__(hidden, num_labels, dropout, output="label")

    def features(self, states, batch):
        return states[:, 0]
