"""Joint extraction's head: a BIOES tagger (softmax, C_e) and a pairwise relation scorer (C_r, PMEI Eq. 11).

m_ij = ReLU(W_m [t_i; t_j]), y_ij = sigmoid(W_r m_ij + b), one sigmoid per relation,
scored between the last words of two entities (or of one entity with itself: head = tail). ``W_m [t_i; t_j]`` is computed as
``W_a t_i + W_b t_j`` (the same linear map, split) so the n x n x 2d pair tensor is never built.
The head reads one shared H for both classifiers (MTL), or PMEI's task-specific pair (t_e, t_r).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from fusionlab.tasks.head import TaskHead, spread_words, word_states

RELATION_PRIOR = 0.01  # the initial probability of every (word pair, relation)


class TaggerAndPairScorer(TaskHead):
    def __init__(self, hidden: int, num_tags: int, num_relations: int, dropout: float, pair_hidden: int = 128):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.tagger = nn.Linear(hidden, num_tags)
        self.pair_head, self.pair_tail = nn.Linear(hidden, pair_hidden), nn.Linear(hidden, pair_hidden, bias=False)
        self.relation = nn.Linear(pair_hidden, num_relations)
        # start every pair near the rare-positive prior, not at 0.5: otherwise the first many steps only
        # push the ~n^2 |R| negatives down (the RetinaNet prior initialisation)
        nn.init.constant_(self.relation.bias, -math.log((1 - RELATION_PRIOR) / RELATION_PRIOR))

    def forward(self, states, batch):
        entity_states, relation_states = states if isinstance(states, tuple) else (states, states)
        tags = self.tagger(self.dropout(word_states(entity_states, batch["word_index"])))
        words = self.dropout(word_states(relation_states, batch["word_index"]))
        pairs = torch.relu(self.pair_head(words).unsqueeze(2) + self.pair_tail(words).unsqueeze(1))
        return tags, self.relation(pairs)  # [B, W, T], [B, W, W, R]

    def loss_of(self, outputs, batch):
        """PMEI Eq. 12-13: cross-entropy summed over the words and over every (word pair, relation),
        averaged over sentences (a mean over all pairs would drown the few true triples)."""
        tag_logits, pair_logits = outputs
        mask, sentences = batch["word_mask"], batch["word_mask"].size(0)
        tag_loss = F.cross_entropy(tag_logits[mask], batch["tags"][mask], reduction="sum")
        pair_mask = mask.unsqueeze(2) & mask.unsqueeze(1)
        pair_loss = F.binary_cross_entropy_with_logits(pair_logits[pair_mask], batch["pair_targets"][pair_mask],
                                                       reduction="sum")
        return (tag_loss + pair_loss) / sentences

    def decode_of(self, outputs, batch):
        tag_logits, pair_logits = outputs
        lengths = batch["word_mask"].sum(-1).tolist()
        tags = [row[:n] for row, n in zip(tag_logits.argmax(-1).tolist(), lengths)]
        return [(t, probs) for t, probs in zip(tags, torch.sigmoid(pair_logits).cpu())]

    def confidence_of(self, outputs, batch, decoded):
        """Per word, the softmax of its tag logits (what an entity's score averages); a relation's probability
        is its sigmoid, already in the decoded prediction."""
        words = outputs[0].softmax(-1).tolist()
        return [{"words": w[:len(tags)]} for w, (tags, _) in zip(words, decoded)]

    def evidence_of(self, outputs, batch, length):
        """y'_e (tag softmax) and f(y'_r): the pair sigmoids max-pooled over the partner word (PMEI Eq. 5-6)."""
        tag_logits, pair_logits = outputs
        partner = batch["word_mask"][:, None, :, None]
        relation = torch.sigmoid(pair_logits).masked_fill(~partner, 0.0).amax(dim=2)
        return {"entity": spread_words(tag_logits.softmax(-1), batch, length),
                "relation": spread_words(relation, batch, length)}
