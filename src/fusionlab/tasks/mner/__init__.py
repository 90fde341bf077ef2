"""Multimodal NER: BIO tags over words, dropout + Linear + CRF (HVPNeT Eq. 10), entity F1."""

from __future__ import annotations

from fusionlab.tasks.base import Task
from fusionlab.tasks.head import mean_of_words
from fusionlab.tasks.mner.head import CrfTagger
from fusionlab.tasks.mner.output import EntityOutput
from fusionlab.tasks.mner.targets import TagTargets


class MnerTask(Task):
    name = "mner"
    loss_sums_words = True

    def __init__(self, dropout: float = 0.1):
        data = TagTargets()
        super().__init__(data, EntityOutput(data), dropout)

    def head(self, hidden):
        return CrfTagger(hidden, len(self.data.tags), self.dropout)

    def outputs(self):
        return {"entity": len(self.data.tags)}

    def positions_read(self, batch):
        """Each word's first sub-token (a padded word's index points at [CLS])."""
        return batch["word_index"]

    def sentence_vector(self, states, batch):
        """The mean of the words' first sub-tokens: one vector for a word-level head's sentence."""
        return mean_of_words(states, batch)
