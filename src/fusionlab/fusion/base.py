"""What a fusion method is: a plain ``nn.Module`` that turns a batch into fused token states.

A method subclasses ``FusionMethod``, builds its own layers on the encoders it is given, sets
``output_size`` (the width of the states it returns) and implements ``fuse(batch) -> Fused``: the
states the task head reads, the method's extra (weighted) losses and any raw quantities worth
logging. Everything else (the task head, losses, metrics, optimiser groups, checkpoints) belongs to
the one LightningModule, ``fusionlab.model.FusionModel``; a method's own outputs (HVPNeT's gate maps,
MASE's allocation plot) come as callbacks from its folder (``callbacks``), the generic ones (prediction
dumps, W&B media) from ``fusionlab.callbacks``. What a method serves and needs is declared in its config
(``conf/fusion/<method>.yaml``), so nothing here is looked up before construction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import lightning as L
import torch
from torch import nn

from fusionlab.encoders.text import TextEncoder
from fusionlab.encoders.vision import VisionEncoder
from fusionlab.tasks.base import Task


@dataclass
class Fused:
    states: torch.Tensor | tuple[torch.Tensor, ...]  # [B, n, D] token states the task head reads (one per output)
    losses: dict[str, torch.Tensor] = field(default_factory=dict)  # the method's extra (weighted) losses
    logs: dict[str, torch.Tensor] = field(default_factory=dict)  # raw quantities logged as train/<name>


class FusionMethod(nn.Module, ABC):
    output_size: int  # the width of ``Fused.states``, set by each method

    def __init__(self, task: Task, text_encoder: TextEncoder, vision_encoder: VisionEncoder | None = None):
        super().__init__()
        self.task, self.text, self.vision = task, text_encoder, vision_encoder
        self.states_go_to_head = True  # False where another method reads them first (PMEI's base): every token then

    @abstractmethod
    def fuse(self, batch: dict) -> Fused:
        """The method itself: fused token states (and its extra losses) for ``batch``."""

    def forward(self, batch: dict) -> Fused:
        return self.fuse(batch)

    # --- hooks a method may override -----------------------------------------------------------
    def prepare(self, training_examples: list) -> None:
        """Fit what the method learns from the training text before training (MuSE's caption words)."""

    def task_loss_weight(self) -> float:
        """What the task loss is multiplied by in the training loss (a method's weighting may rescale it)."""
        return 1.0

    def callbacks(self) -> list[L.Callback]:
        """Lightning callbacks the method's training and its own outputs need (MASE's E-step and allocation
        plot, HVPNeT's gate maps), whatever the run's other outputs."""
        return []

    def summary(self) -> dict:
        """What the method learned beyond its metrics, for ``results.json`` (MASE's z trajectory)."""
        return {}

    # --- shared input paths --------------------------------------------------------------------
    def visual_features(self, images, mask=None) -> dict[str, torch.Tensor]:
        """Features of [*, 3, H, W] pixels (running the encoder) or cached features, masked to zero."""
        if isinstance(images, dict):
            features = images
        else:
            lead = images.shape[:-3]
            features = self.vision(images.flatten(0, len(lead) - 1))
            features = {k: v.view(*lead, *v.shape[1:]) for k, v in features.items()}
        if mask is not None:
            features = {k: v * mask.view(*mask.shape, *([1] * (v.dim() - mask.dim()))).to(v.dtype)
                        for k, v in features.items()}
        return features

    def encode_text(self, batch: dict) -> torch.Tensor:
        return self.text(batch["input_ids"], batch["attention_mask"])

    def text_for_head(self, batch: dict, **attention_options) -> torch.Tensor:
        """The text encoder's states where the task head reads them (``Task.positions_read``), for a method whose
        states reach the head token by token: packed, the encoder skips its last layer elsewhere (zeros there).
        Where ``states_go_to_head`` is False, every token's."""
        reads = self.states_go_to_head and self.text.pack_tokens  # a padded encoder has no use for the positions
        positions = self.task.positions_read(batch) if reads else None
        return self.text(batch["input_ids"], batch["attention_mask"], read_positions=positions, **attention_options)
