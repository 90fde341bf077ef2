"""MSA's head: [CLS] -> dropout -> Linear."""

from __future__ import annotations

from torch import nn
from torch.nn import functional as F

from fusionlab.tasks.head import TaskHead, repeat_sentence


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
