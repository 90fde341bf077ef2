"""MNRE scoring: micro P/R/F1 over relations other than None, plus accuracy over all pairs."""

from __future__ import annotations

import torch
from torchmetrics import Metric

from fusionlab.tasks.metrics.entity import prf


class RelationF1(Metric):
    full_state_update = False

    def __init__(self, none_index: int):
        super().__init__()
        self.none_index = none_index
        for name in ("tp", "pred", "gold", "correct", "total"):
            self.add_state(name, torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, predicted: torch.Tensor, gold: torch.Tensor) -> None:
        predicted, gold = predicted.to(self.tp.device), gold.to(self.tp.device)
        real_pred, real_gold = predicted != self.none_index, gold != self.none_index
        self.tp += ((predicted == gold) & real_gold).sum()
        self.pred += real_pred.sum()
        self.gold += real_gold.sum()
        self.correct += (predicted == gold).sum()
        self.total += gold.numel()

    def compute(self) -> dict[str, float]:
        return {**prf(self.tp, self.pred, self.gold), "accuracy": float(self.correct) / max(int(self.total), 1)}
