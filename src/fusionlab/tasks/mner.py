"""Multimodal NER: BIO tags over words, dropout + Linear + CRF (HVPNeT Eq. 10), entity F1."""

from __future__ import annotations

from dataclasses import replace

import torch
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

    def fit(self, examples):
        types = {span.label for e in examples for span in spans_from_tags(e.tags)}
        self.types = sorted(types)
        self.tags = tag_vocabulary(self.types, "BIO")

    def targets(self, example: Example, encoded: Encoded):
        kept = encoded.kept_words
        return {"tags": [self.tags.index(t) for t in example.tags[:kept]]}

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
