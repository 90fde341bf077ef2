"""MNER's data side: BIO tags over words, over the entity types seen in training."""

from __future__ import annotations

from dataclasses import replace

from fusionlab.data.encoding import Encoded, pad
from fusionlab.data.example import Example
from fusionlab.data.tagging import spans_from_tags, tag_vocabulary
from fusionlab.tasks.targets import Targets, multi_hot


class TagTargets(Targets):
    vocabulary_keys = ("types",)

    def labels_of(self, examples):
        return {"types": {span.label for e in examples for span in spans_from_tags(e.tags)}}

    def load_vocabulary(self, vocabulary):
        super().load_vocabulary(vocabulary)
        self.tags = tag_vocabulary(self.types, "BIO")
        self.tag_ids = {tag: index for index, tag in enumerate(self.tags)}

    def targets(self, example: Example, encoded: Encoded):
        """Tags of a type unseen in training are ``O`` here (only a val/test loss reads them); the metric
        scores the gold entities themselves, so such an entity is a miss."""
        kept = encoded.kept_words
        return {"tags": [self.tag_ids.get(t, 0) for t in example.tags[:kept]]}

    def collate(self, items, width):
        return {"tags": pad([i["tags"] for i in items])}

    def sentence_labels(self, batch):
        """The entity types a sentence mentions (multi-hot over ``types``)."""
        return multi_hot([{span.label for span in spans_from_tags(e.tags)} for e in batch["examples"]], self.types)

    def unlabeled(self, example):
        return replace(example, tags=["O"] * len(example.words))
