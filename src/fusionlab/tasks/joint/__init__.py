"""Joint entity + relation extraction: the MTL baseline (PMEI's Table 6 "MTL").

A BIOES tagger (softmax, C_e) and a pairwise relation scorer (C_r, PMEI Eq. 11) on the fused
states; a relation is predicted where its sigmoid clears ``threshold``; triple F1 by word position and as
CasRel's metric compares strings (``fusionlab.tasks.metrics.triple``).
"""

from __future__ import annotations

from fusionlab.tasks.base import Task
from fusionlab.tasks.head import mean_of_words
from fusionlab.tasks.joint.head import TaggerAndPairScorer
from fusionlab.tasks.joint.output import TripleOutput
from fusionlab.tasks.joint.targets import TripleTargets


class JointTask(Task):
    name = "joint"
    loss_sums_words = True

    def __init__(self, dropout: float = 0.1, pair_hidden: int = 128, threshold: float = 0.5):
        data = TripleTargets()
        super().__init__(data, TripleOutput(data, threshold), dropout)
        self.pair_hidden = pair_hidden

    def head(self, hidden):
        return TaggerAndPairScorer(hidden, len(self.data.tags), len(self.data.relations), self.dropout,
                                   self.pair_hidden)

    def outputs(self):
        return {"entity": len(self.data.tags), "relation": len(self.data.relations)}

    def positions_read(self, batch):
        """Each word's first sub-token (a padded word's index points at [CLS])."""
        return batch["word_index"]

    def sentence_vector(self, states, batch):
        """The mean of the words' first sub-tokens: one vector for a word-level head's sentence."""
        return mean_of_words(states, batch)
