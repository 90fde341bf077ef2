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

    def forward(self, states, batch):
        return self.emissions(self.dropout(word_states(states, batch["word_index"])))  # [B, W, tags]

    def loss_of(self, emissions, batch):
        return -self.crf(emissions, batch["tags"], mask=batch["word_mask"], reduction="mean")

    def decode_of(self, emissions, batch):
        return self.crf.decode(emissions, mask=batch["word_mask"])

    def evidence_of(self, emissions, batch, length):
        """Per-word tag distributions (softmax of the emissions)."""
        return {"entity": spread_words(emissions.softmax(-1), batch, length)}
