"""Entity-level precision/recall/F1 (conlleval / seqeval default mode), overall and per type."""

from __future__ import annotations

import torch
from torchmetrics import Metric

from fusionlab.data.example import Span


def _f1(tp, pred, gold):
    precision = tp / pred if pred else 0.0
    recall = tp / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def prf(tp: torch.Tensor, pred: torch.Tensor, gold: torch.Tensor, prefix: str = "") -> dict[str, float]:
    precision, recall, f1 = _f1(float(tp), float(pred), float(gold))
    return {f"{prefix}precision": precision, f"{prefix}recall": recall, f"{prefix}f1": f1}


class EntityF1(Metric):
    """Micro P/R/F1 over exact (type, start, end) spans; ``f1_<TYPE>`` per type. Gold entities of a type
    outside ``types`` (unseen in training) count in one extra slot: misses in the micro scores."""

    full_state_update = False

    def __init__(self, types: list[str]):
        super().__init__()
        self.types = sorted(types)
        for name in ("tp", "pred", "gold"):
            self.add_state(name, torch.zeros(len(self.types) + 1, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, predicted: list[list[Span]], gold: list[list[Span]]) -> None:
        for pred_spans, gold_spans in zip(predicted, gold):
            pred_set, gold_set = set(pred_spans), set(gold_spans)
            for name, spans in (("pred", pred_set), ("gold", gold_set), ("tp", pred_set & gold_set)):
                state = getattr(self, name)
                for span in spans:
                    state[self.types.index(span.label) if span.label in self.types else -1] += 1

    def compute(self) -> dict[str, float]:
        scores = prf(self.tp.sum(), self.pred.sum(), self.gold.sum())
        for index, kind in enumerate(self.types):
            scores[f"f1_{kind}"] = prf(self.tp[index], self.pred[index], self.gold[index])["f1"]
        return scores
