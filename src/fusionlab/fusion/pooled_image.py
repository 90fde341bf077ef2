"""A global image vector from the vision encoder's stage pyramid: each chosen stage average-pooled,
concatenated, layer-normalised (the stages of a frozen backbone differ in scale by orders of
magnitude) and projected. Shared by the concat baseline and MASE's image modality."""

from __future__ import annotations

import torch
from torch import nn

STAGES = ("all", "last")


class PooledImage(nn.Module):
    def __init__(self, stage_channels: list[int], width: int, stages: str = "all"):
        super().__init__()
        if stages not in STAGES:
            raise ValueError(f"image stages must be one of {STAGES}, not {stages!r}")
        self.stages = list(range(len(stage_channels))) if stages == "all" else [len(stage_channels) - 1]
        pooled = sum(stage_channels[i] for i in self.stages)
        self.project = nn.Sequential(nn.LayerNorm(pooled), nn.Linear(pooled, width))

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        pooled = torch.cat([features[f"pyramid_{i}"].mean(dim=(-2, -1)) for i in self.stages], dim=-1)
        return self.project(pooled)
