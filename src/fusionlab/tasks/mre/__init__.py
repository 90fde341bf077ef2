"""Multimodal RE: entity markers around head and tail, [h; t] -> Linear (HVPNeT Eq. 11).

The markers ``<s> </s> <o> </o>`` are added to the tokenizer as special tokens; the
relation is predicted from the concatenated final states at ``<s>`` and ``<o>``.
"""

from __future__ import annotations

import torch

from fusionlab.tasks.base import Task
from fusionlab.tasks.mre.head import PairClassifier, marker_states
from fusionlab.tasks.mre.output import RelationOutput
from fusionlab.tasks.mre.targets import MarkedPairTargets


class MreTask(Task):
    name = "mre"

    def __init__(self, dropout: float = 0.1):
        data = MarkedPairTargets()
        super().__init__(data, RelationOutput(data), dropout)

    def head(self, hidden):
        return PairClassifier(hidden, len(self.data.relations), self.dropout)

    def outputs(self):
        return {"relation": len(self.data.relations)}

    def positions_read(self, batch):
        """The ``<s>`` and ``<o>`` markers."""
        return torch.stack([batch["head_pos"], batch["tail_pos"]], dim=1)

    def sentence_vector(self, states, batch):
        """[<s>; <o>]: the states the pair classifier reads."""
        return marker_states(states, batch)
