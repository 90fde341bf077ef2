"""Joint entity + relation extraction: the MTL baseline (PMEI's Table 6 "MTL").

A BIOES tagger (softmax, C_e) and a pairwise relation scorer (C_r, PMEI Eq. 11):
m_ij = ReLU(W_m [t_i; t_j]), y_ij = sigmoid(W_r m_ij + b), one sigmoid per relation,
scored between the last words of two entities. ``W_m [t_i; t_j]`` is computed as
``W_a t_i + W_b t_j`` (the same linear map, split) so the n x n x 2d pair tensor is never built.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from fusionlab.data.encoding import Encoded, pad
from fusionlab.data.example import Relation
from fusionlab.tasks.base import Task, TaskHead, word_states
from fusionlab.tasks.metrics.triple import TripleF1
from fusionlab.tasks.tagging import spans_from_tags, tag_vocabulary, tags_from_spans


class TaggerAndPairScorer(TaskHead):
    def __init__(self, hidden: int, num_tags: int, num_relations: int, dropout: float, pair_hidden: int = 128):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.tagger = nn.Linear(hidden, num_tags)
        self.pair_head, self.pair_tail = nn.Linear(hidden, pair_hidden), nn.Linear(hidden, pair_hidden, bias=False)
        self.relation = nn.Linear(pair_hidden, num_relations)

    def forward(self, states, batch):
        words = self.dropout(word_states(states, batch["word_index"]))
        pairs = torch.relu(self.pair_head(words).unsqueeze(2) + self.pair_tail(words).unsqueeze(1))
        return self.tagger(words), self.relation(pairs)  # [B, W, T], [B, W, W, R]

    def loss(self, states, batch):
        tag_logits, pair_logits = self(states, batch)
        mask = batch["word_mask"]
        tag_loss = F.cross_entropy(tag_logits[mask], batch["tags"][mask])
        pair_mask = mask.unsqueeze(2) & mask.unsqueeze(1)
        pair_loss = F.binary_cross_entropy_with_logits(pair_logits[pair_mask], batch["pair_targets"][pair_mask])
        return tag_loss + pair_loss

    def decode(self, states, batch):
        tag_logits, pair_logits = self(states, batch)
        lengths = batch["word_mask"].sum(-1).tolist()
        tags = [row[:n] for row, n in zip(tag_logits.argmax(-1).tolist(), lengths)]
        return [(t, probs) for t, probs in zip(tags, torch.sigmoid(pair_logits).cpu())]


class JointTask(Task):
    name = "joint"

    def __init__(self, dropout: float = 0.1, pair_hidden: int = 128, threshold: float = 0.5):
        super().__init__(dropout)
        self.pair_hidden, self.threshold = pair_hidden, threshold

    def fit(self, examples):
        self.types = sorted({s.label for e in examples for s in e.entities}) or ["ENT"]
        self.tags = tag_vocabulary(self.types, "BIOES")
        self.relations = sorted({r.label for e in examples for r in e.relations})

    def targets(self, example, encoded: Encoded):
        kept = encoded.kept_words
        tags = tags_from_spans(example.entities, len(example.words), "BIOES")[:kept]
        pairs = [(r.head.last, r.tail.last, self.relations.index(r.label))
                 for r in example.relations if r.head.last < kept and r.tail.last < kept]
        return {"tags": [self.tags.index(t) for t in tags], "pairs": pairs}

    def collate(self, items, width):
        targets = torch.zeros(len(items), width, width, len(self.relations))
        for row, item in enumerate(items):
            for head, tail, relation in item["pairs"]:
                targets[row, head, tail, relation] = 1.0
        return {"tags": pad([i["tags"] for i in items]), "pair_targets": targets}

    def head(self, hidden):
        return TaggerAndPairScorer(hidden, len(self.tags), len(self.relations), self.dropout, self.pair_hidden)

    def metric(self):
        return TripleF1()

    def extract(self, prediction, n_words: int):
        """Entities from the tags, then every relation whose sigmoid clears the threshold."""
        tag_ids, probs = prediction
        tags = [self.tags[t] for t in tag_ids] + ["O"] * (n_words - len(tag_ids))
        entities = spans_from_tags(tags)
        relations = [Relation(h, t, self.relations[r]) for h in entities for t in entities if h != t
                     for r in range(len(self.relations)) if probs[h.last, t.last, r] > self.threshold]
        return entities, relations

    def score(self, metric, predictions, batch):
        examples = batch["examples"]
        metric.update([self.extract(p, len(e.words)) for p, e in zip(predictions, examples)],
                      [(e.entities, e.relations) for e in examples])

    def readable(self, example, prediction):
        entities, relations = self.extract(prediction, len(example.words))
        show = lambda rs: [[r.head.start, r.head.end, r.label, r.tail.start, r.tail.end] for r in rs]  # noqa: E731
        return {"words": example.words, "gold": show(example.relations), "predicted": show(relations),
                "gold_entities": [[s.start, s.end] for s in example.entities],
                "predicted_entities": [[s.start, s.end] for s in entities]}
