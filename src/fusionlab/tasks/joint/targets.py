"""Joint extraction's data side: BIOES tags over words, and every (head last word, tail last word, relation)."""

from __future__ import annotations

from dataclasses import replace

import torch

from fusionlab.data.encoding import Encoded, pad
from fusionlab.data.tagging import tag_vocabulary, taggable, tags_from_spans
from fusionlab.tasks.targets import Targets, multi_hot


class TripleTargets(Targets):
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
        pair), nor does a triple with an entity the tags leave out (it overlaps another: its cell would
        name that other entity): the metric scores the gold triples themselves, so they are misses. A
        triple whose head is its tail is the cell (last word, last word)."""
        kept = encoded.kept_words
        tags = tags_from_spans(example.entities, len(example.words), "BIOES")[:kept]
        tagged = set(taggable(example.entities))
        pairs = [(r.head.last, r.tail.last, self.relations.index(r.label)) for r in example.relations
                 if r.head in tagged and r.tail in tagged and r.head.last < kept and r.tail.last < kept
                 and r.label in self.relations]
        return {"tags": [self.tag_ids.get(t, 0) for t in tags], "pairs": pairs}

    def collate(self, items, width):
        targets = torch.zeros(len(items), width, width, len(self.relations))
        for row, item in enumerate(items):
            for head, tail, relation in item["pairs"]:
                targets[row, head, tail, relation] = 1.0
        return {"tags": pad([i["tags"] for i in items]), "pair_targets": targets}

    def sentence_labels(self, batch):
        """The relation types a sentence holds (multi-hot over ``relations``)."""
        return multi_hot([{r.label for r in e.relations} for e in batch["examples"]], self.relations)

    def unlabeled(self, example):
        return replace(example, entities=[], relations=[], triples=[], unplaced=[])
