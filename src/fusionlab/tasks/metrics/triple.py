"""Joint extraction: triple P/R/F1 under exact match (full spans) and partial match (last
word of each entity, as NYT's partial-match protocol), plus entity F1 of the tagger."""

from __future__ import annotations

import torch
from torchmetrics import Metric

from fusionlab.data.example import Relation, Span
from fusionlab.tasks.metrics.entity import prf


def _exact(r: Relation):
    return (r.head.start, r.head.end, r.label, r.tail.start, r.tail.end)


def _partial(r: Relation):
    return (r.head.last, r.label, r.tail.last)


class TripleF1(Metric):
    full_state_update = False

    def __init__(self):
        super().__init__()
        for match in ("exact", "partial", "entity"):
            for name in ("tp", "pred", "gold"):
                self.add_state(f"{match}_{name}", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def _count(self, match: str, predicted: set, gold: set) -> None:
        setattr(self, f"{match}_tp", getattr(self, f"{match}_tp") + len(predicted & gold))
        setattr(self, f"{match}_pred", getattr(self, f"{match}_pred") + len(predicted))
        setattr(self, f"{match}_gold", getattr(self, f"{match}_gold") + len(gold))

    def update(self, predicted: list[tuple[list[Span], list[Relation]]],
               gold: list[tuple[list[Span], list[Relation]]]) -> None:
        for (pred_entities, pred_relations), (gold_entities, gold_relations) in zip(predicted, gold):
            self._count("exact", {_exact(r) for r in pred_relations}, {_exact(r) for r in gold_relations})
            self._count("partial", {_partial(r) for r in pred_relations}, {_partial(r) for r in gold_relations})
            self._count("entity", set(pred_entities), set(gold_entities))

    def compute(self) -> dict[str, float]:
        scores = {}
        for match in ("exact", "partial", "entity"):
            counts = [getattr(self, f"{match}_{name}") for name in ("tp", "pred", "gold")]
            scores.update(prf(*counts, prefix=f"{match}_"))
        scores["f1"] = scores["exact_f1"]
        return scores
