"""MRE's head: the final states at ``<s>`` and ``<o>``, [h; t] -> dropout -> Linear (HVPNeT Eq. 11)."""

from __future__ import annotations

import torch

from fusionlab.tasks.head import SingleLabelHead


class PairClassifier(SingleLabelHead):
    def __init__(self, hidden: int, num_relations: int, dropout: float):
        super().__init__(2 * hidden, num_relations, dropout, output="relation")

    def features(self, states, batch):
        return marker_states(states, batch)


def marker_states(states: torch.Tensor, batch: dict) -> torch.Tensor:
    """[h; t]: the states at each sentence's ``<s>`` and ``<o>`` markers, [B, n, D] -> [B, 2D]."""
    rows = torch.arange(states.size(0), device=states.device)
    return torch.cat([states[rows, batch["head_pos"]], states[rows, batch["tail_pos"]]], dim=-1)
