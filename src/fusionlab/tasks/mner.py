"""Multimodal NER: BIO tags over words, dropout + Linear + CRF (HVPNeT Eq. 10), entity F1."""

from __future__ import annotations

from dataclasses import replace

from torch import nn
from torchcrf import CRF

from fusionlab.data.encoding import Encoded, pad
from fusionlab.data.example import Example
from fusionlab.tasks.base import Task, TaskHead, multi_hot, span_record, spread_words, word_states
from fusionlab.tasks.metrics.entity import EntityF1
from fusionlab.tasks.tagging import spans_from_tags, tag_vocabulary


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


class MnerTask(Task):
    name = "mner"
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

    def head(self, hidden):
        return CrfTagger(hidden, len(self.tags), self.dropout)

    def outputs(self):
        return {"entity": len(self.tags)}

    def sentence_labels(self, batch):
        """The entity types a sentence mentions (multi-hot over ``types``)."""
        return multi_hot([{span.label for span in spans_from_tags(e.tags)} for e in batch["examples"]], self.types)

    def metric(self):
        return EntityF1(self.types)

    def predicted_tags(self, prediction: list[int], n_words: int) -> list[str]:
        """Decoded tags, with ``O`` for words the tokenizer cut off."""
        tags = [self.tags[t] for t in prediction]
        return tags + ["O"] * (n_words - len(tags))

    def score(self, metric, predictions, batch):
        examples = batch["examples"]
        predicted = [spans_from_tags(self.predicted_tags(p, len(e.words))) for p, e in zip(predictions, examples)]
        metric.update(predicted, [spans_from_tags(e.tags) for e in examples])

    def readable(self, example, prediction):
        return {"words": example.words, "gold": example.tags,
                "predicted": self.predicted_tags(prediction, len(example.words))}

    def unlabeled(self, example):
        return replace(example, tags=["O"] * len(example.words))

    def prediction(self, example, prediction):
        spans = spans_from_tags(self.predicted_tags(prediction, len(example.words)))
        return {"entities": [span_record(example.words, s) for s in spans]}
