"""MRE's output side: relation F1 (MNRE scoring), relation dumps and the relation of a new pair."""

from __future__ import annotations

import torch

from fusionlab.tasks.metrics.relation import RelationF1
from fusionlab.tasks.mre.targets import NO_RELATION, MarkedPairTargets
from fusionlab.tasks.output import Output, span_record


class RelationOutput(Output):
    def __init__(self, data: MarkedPairTargets):
        self.data = data

    def metric(self):
        return RelationF1(self.data.relations.index(NO_RELATION))

    def score(self, metric, predictions, batch):
        metric.update(torch.tensor(predictions), batch["relation"])

    def readable(self, example, prediction):
        relation = example.relations[0]
        return {"words": example.words, "head": [relation.head.start, relation.head.end],
                "tail": [relation.tail.start, relation.tail.end], "gold": relation.label,
                "predicted": self.data.relations[prediction]}

    def prediction(self, example, prediction, confidence=None):
        """The relation between the given head and tail; with ``confidence``, its softmax ``probability``."""
        relation = example.relations[0]
        return {"head": span_record(example.words, relation.head), "tail": span_record(example.words, relation.tail),
                "relation": self.data.relations[prediction],
                **({"probability": confidence[prediction]} if confidence is not None else {})}
