"""MNER's head: dropout + Linear + CRF over the words (HVPNeT Eq. 10)."""

from __future__ import annotations

from torch import nn
from torchcrf import CRF

from fusionlab.tasks.head import TaskHead, spread_words, word_states


class CrfTagger(TaskHead):
    """Emissions from the first sub-token of every word, scored and decoded by a linear-chain CRF."""

    def __init__(self, hidden: int, num_tags: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.emissions = nn.Linear(hidden, num_tags)
        self.crf = CRF(num_tags, batch_first=True)

    def _emissions(self, states, batch):
        return self.emissions(self.dropout(word_states(states, batch["word_index"])))

    def loss(self, states, batch):
        return -self.crf(self._emissions(states, batch), batch["tags"], mask=batch["word_mask"], reduction="mean")

    def decode(self, states, batch):
        return self.crf.decode(self._emissions(states, batch), mask=batch["word_mask"])

    def evidence(self, states, batch):
        """Per-word tag distributions (softmax of the emissions)."""
        return {"entity": spread_words(self._emissions(states, batch).softmax(-1), batch, states.size(1))}
