"""A task's output side: its torchmetrics Metric, the readable form of a prediction and what a new input is told."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torchmetrics import Metric

from fusionlab.data.example import Example


class Output(ABC):
    @abstractmethod
    def metric(self) -> Metric: ...

    @abstractmethod
    def score(self, metric: Metric, predictions: list, batch: dict) -> None:
        """Update ``metric`` with predictions against the full, untruncated gold."""

    @abstractmethod
    def readable(self, example: Example, prediction) -> dict:
        """A prediction dump row: words, gold and predicted."""

    @abstractmethod
    def prediction(self, example: Example, prediction, confidence=None) -> dict:
        """What the model says about a new input: entities, relations or a label; with ``confidence`` (the
        head's ``confidence_of``), their probabilities too."""


def span_record(words: list[str], span) -> dict:
    return {"start": span.start, "end": span.end, "text": " ".join(words[span.start:span.end]),
            **({"type": span.label} if span.label else {})}


def span_score(word_probabilities: list[list[float]], tag_ids: list[int], span) -> float:
    """An entity's score: the mean over its words of the probability of the tag each was given."""
    words = range(span.start, min(span.end, len(tag_ids)))
    return sum(word_probabilities[w][tag_ids[w]] for w in words) / max(len(words), 1)
