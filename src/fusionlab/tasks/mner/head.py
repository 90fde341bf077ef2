"""MNER's head: dropout + Linear + CRF over the words (HVPNeT Eq. 10)."""

from __future__ import annotations

import torch
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

    def confidence_of(self, emissions, batch, decoded):
        """The CRF's probability of the whole decoded tagging (exp of its log-likelihood, exact), and per word
        the softmax of its emissions (what an entity's score averages)."""
        mask = batch["word_mask"]
        tags = torch.zeros_like(mask, dtype=torch.long)
        for row, path in enumerate(decoded):
            tags[row, :len(path)] = torch.tensor(path)
        sequence = self.crf(emissions, tags, mask=mask, reduction="none").exp().tolist()
        words = emissions.softmax(-1).tolist()
        return [{"sequence": p, "words": w[:len(path)]} for p, w, path in zip(sequence, words, decoded)]

    def evidence_of(self, emissions, batch, length):
        """Per-word tag distributions (softmax of the emissions)."""
        return {"entity": spread_words(emissions.softmax(-1), batch, length)}
