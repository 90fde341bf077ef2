"""Text-only baseline: the text encoder's states go straight to the task head (BERT-CRF for MNER)."""

from __future__ import annotations

from fusionlab.fusion.base import Fused, FusionMethod


class TextOnly(FusionMethod):
    def __init__(self, task, text_encoder, vision_encoder=None):
        super().__init__(task, text_encoder, None)
        self.output_size = text_encoder.hidden_size

    def fuse(self, batch):
        return Fused(self.text_for_head(batch))
