"""Concat baseline (late fusion): the pooled global image feature is projected, concatenated
to every token state and mixed back to the text width by a two-layer MLP, as a residual
correction of the text state: h'_i = h_i + W_2 GELU(W_1 [h_i; tanh(V LN(P(img)))]) (the
residual keeps the pretrained text path intact at initialisation; the hidden layer lets the
image count for some tokens only: docs/reproducing.md, "Defaults chosen on the synthetic benchmark").
``stages=all`` pools every backbone stage (the same visual information HVPNeT's pyramid
gets; the default, so the comparison is on equal terms), ``stages=last`` only the last one.
A missing image contributes a zero vector (its mask is False)."""

from __future__ import annotations

import torch
from torch import nn

from fusionlab.fusion.base import Fused, FusionMethod
from fusionlab.fusion.pooled_image import PooledImage


class Concat(FusionMethod):
    def __init__(self, task, text_encoder, vision_encoder, *, image_dim: int, dropout: float, stages: str):
        super().__init__(task, text_encoder, vision_encoder)
        hidden = text_encoder.hidden_size
        self.image = nn.Sequential(PooledImage(vision_encoder.stage_channels, image_dim, stages), nn.Tanh())
        self.mix = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden + image_dim, hidden), nn.GELU(),
                                 nn.Linear(hidden, hidden))  # W_1, W_2
        self.output_size = hidden

    def fuse(self, batch):
        states = self.text_for_head(batch)  # the mix below is per token
        features = self.visual_features(batch["image"], batch["image_mask"])
        image = self.image(features).unsqueeze(1).expand(-1, states.size(1), -1)
        return Fused(states + self.mix(torch.cat([states, image], dim=-1)))
