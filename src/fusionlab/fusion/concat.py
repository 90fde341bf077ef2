"""Concat baseline (late fusion): the pooled global image feature is projected, concatenated
to every token state and mixed back to the text width: h'_i = GELU(W [h_i; P(img)] + b).
A missing image contributes a zero vector (its mask is False)."""

from __future__ import annotations

import torch
from torch import nn

from fusionlab.fusion.base import Fused, FusionModule


class Concat(FusionModule):
    def __init__(self, task, text_encoder, vision_encoder, image_dim: int = 128, dropout: float = 0.1, **optim):
        super().__init__(task, text_encoder, vision_encoder, **optim)
        hidden = text_encoder.hidden_size
        self.image_proj = nn.Sequential(nn.Linear(vision_encoder.grid_channels, image_dim), nn.Tanh())
        self.mix = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden + image_dim, hidden), nn.GELU())
        self.build_head(hidden)

    def fuse(self, batch):
        states = self.encode_text(batch)
        grid = self.visual_features(batch["image"], batch["image_mask"])["grid"]
        image = self.image_proj(grid.mean(dim=(-2, -1)))  # global average pool of the last stage
        image = image.unsqueeze(1).expand(-1, states.size(1), -1)
        return Fused(self.mix(torch.cat([states, image], dim=-1)))
