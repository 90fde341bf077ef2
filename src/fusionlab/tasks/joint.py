"""Joint entity + relation extraction: the MTL baseline (PMEI's Table 6 "MTL").

A BIOES tagger (softmax, C_e) and a pairwise relation scorer (C_r, PMEI Eq. 11):
m_ij = ReLU(W_m [t_i; t_j]), y_ij = sigmoid(W_r m_ij + b), one sigmoid per relation,
scored between the last words of two entities. ``W_m [t_i; t_j]`` is computed as
``W_a t_i + W_b t_j`` (the same linear map, split) so the n x n x 2d pair tensor is never built.
The head reads one shared H for both classifiers (MTL), or PMEI's task-specific pair (t_e, t_r).
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import nn
from torch.nn import functional as F

from fusionlab.data.encoding import Encoded, pad
from fusionlab.data.example import Relation
from fusionlab.tasks.base import Task, TaskHead, multi_hot, span_record, spread_words, word_states
from fusionlab.tasks.metrics.triple import TripleF1
from fusionlab.tasks.tagging import spans_from_tags, tag_vocabulary, tags_from_spans

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

    def loss(self, states, batch):
        """PMEI Eq. 12-13: cross-entropy summed over the words and over every (word pair, relation),
        averaged over sentences (a mean over all pairs would drown the few true triples)."""
        tag_logits, pair_logits = self(states, batch)
        mask, sentences = batch["word_mask"], batch["word_mask"].size(0)
        tag_loss = F.cross_entropy(tag_logits[mask], batch["tags"][mask], reduction="sum")
        pair_mask = mask.unsqueeze(2) & mask.unsqueeze(1)
        pair_loss = F.binary_cross_entropy_with_logits(pair_logits[pair_mask], batch["pair_targets"][pair_mask],
                                                       reduction="sum")
        return (tag_loss + pair_loss) / sentences

    def decode(self, states, batch):
        tag_logits, pair_logits = self(states, batch)
        lengths = batch["word_mask"].sum(-1).tolist()
        tags = [row[:n] for row, n in zip(tag_logits.argmax(-1).tolist(), lengths)]
        return [(t, probs) for t, probs in zip(tags, torch.sigmoid(pair_logits).cpu())]

    def evidence(self, states, batch):
        """y'_e (tag softmax) and f(y'_r): the pair sigmoids max-pooled over the partner word (PMEI Eq. 5-6)."""
        tag_logits, pair_logits = self(states, batch)
        partner = batch["word_mask"][:, None, :, None]
        relation = torch.sigmoid(pair_logits).masked_fill(~partner, 0.0).amax(dim=2)
        length = (states[0] if isinstance(states, tuple) else states).size(1)
        return {"entity": spread_words(tag_logits.softmax(-1), batch, length),
                "relation": spread_words(relation, batch, length)}


class JointTask(Task):
    name = "joint"

    def __init__(self, dropout: float = 0.1, pair_hidden: int = 128, threshold: float = 0.5):
        super().__init__(dropout)
        self.pair_hidden, self.threshold = pair_hidden, threshold

    vocabulary_keys = ("types", "relations")

    def labels_of(self, examples):
        return {"types": {s.label for e in examples for s in e.entities},
                "relations": {r.label for e in examples for r in e.relations}}

    def load_vocabulary(self, vocabulary):
        super().load_vocabulary(vocabulary)
        self.types = self.types or ["ENT"]
        self.tags = tag_vocabulary(self.types, "BIOES")
        self.tag_ids = {tag: index for index, tag in enumerate(self.tags)}

    def targets(self, example, encoded: Encoded):
        """Entities of a type, and triples of a relation, unseen in training get no target (``O``, no
        pair): the metric scores the gold triples themselves, so they are misses."""
        kept = encoded.kept_words
        tags = tags_from_spans(example.entities, len(example.words), "BIOES")[:kept]
        pairs = [(r.head.last, r.tail.last, self.relations.index(r.label)) for r in example.relations
                 if r.head.last < kept and r.tail.last < kept and r.label in self.relations]
        return {"tags": [self.tag_ids.get(t, 0) for t in tags], "pairs": pairs}

    def collate(self, items, width):
        targets = torch.zeros(len(items), width, width, len(self.relations))
        for row, item in enumerate(items):
            for head, tail, relation in item["pairs"]:
                targets[row, head, tail, relation] = 1.0
        return {"tags": pad([i["tags"] for i in items]), "pair_targets": targets}

    def head(self, hidden):
        return TaggerAndPairScorer(hidden, len(self.tags), len(self.relations), self.dropout, self.pair_hidden)

    def outputs(self):
        return {"entity": len(self.tags), "relation": len(self.relations)}

    def sentence_labels(self, batch):
        """The relation types a sentence holds (multi-hot over ``relations``)."""
        return multi_hot([{r.label for r in e.relations} for e in batch["examples"]], self.relations)

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

    def unlabeled(self, example):
        return replace(example, entities=[], relations=[])

    def prediction(self, example, prediction):
        entities, relations = self.extract(prediction, len(example.words))
        return {"entities": [span_record(example.words, s) for s in entities],
                "relations": [{"head": span_record(example.words, r.head), "relation": r.label,
                               "tail": span_record(example.words, r.tail)} for r in relations]}
