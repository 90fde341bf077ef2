"""MNER's output side: entity F1 over the decoded tags' spans, tag dumps and entity predictions."""

from __future__ import annotations

from fusionlab.data.tagging import spans_from_tags
from fusionlab.tasks.metrics.entity import EntityF1
from fusionlab.tasks.mner.targets import TagTargets
from fusionlab.tasks.output import Output, span_record, span_score


class EntityOutput(Output):
    def __init__(self, data: TagTargets):
        self.data = data

    def metric(self):
        return EntityF1(self.data.types)

    def predicted_tags(self, prediction: list[int], n_words: int) -> list[str]:
        """Decoded tags, with ``O`` for words the tokenizer cut off."""
        tags = [self.data.tags[t] for t in prediction]
        return tags + ["O"] * (n_words - len(tags))

    def score(self, metric, predictions, batch):
        examples = batch["examples"]
        predicted = [spans_from_tags(self.predicted_tags(p, len(e.words))) for p, e in zip(predictions, examples)]
        metric.update(predicted, [spans_from_tags(e.tags) for e in examples])

    def readable(self, example, prediction):
        return {"words": example.words, "gold": example.tags,
                "predicted": self.predicted_tags(prediction, len(example.words))}

    def prediction(self, example, prediction, confidence=None):
        """Entities; with ``confidence``, each with its ``score`` and the tagging's CRF ``probability``."""
        spans = spans_from_tags(self.predicted_tags(prediction, len(example.words)))
        if confidence is None:
            return {"entities": [span_record(example.words, s) for s in spans]}
        return {"entities": [{**span_record(example.words, s), "score": span_score(confidence["words"], prediction, s)}
                             for s in spans], "probability": confidence["sequence"]}
