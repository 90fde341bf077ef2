"""MRE's head: the final states at ``<s>`` and ``<o>``, [h; t] -> dropout -> Linear (HVPNeT Eq. 11)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from fusionlab.tasks.head import TaskHead, repeat_sentence


class PairClassifier(TaskHead):
    def __init__(self, hidden: int, num_relations: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classify = nn.Linear(2 * hidden, num_relations)

    def logits(self, states, batch):
        rows = torch.arange(states.size(0), device=states.device)
        pair = torch.cat([states[rows, batch["head_pos"]], states[rows, batch["tail_pos"]]], dim=-1)
        return self.classify(self.dropout(pair))

    def loss(self, states, batch):
        return F.cross_entropy(self.logits(states, batch), batch["relation"])

    def decode(self, states, batch):
        return self.logits(states, batch).argmax(-1).tolist()

    def evidence(self, states, batch):
        return {"relation": repeat_sentence(self.logits(states, batch).softmax(-1), states.size(1))}
