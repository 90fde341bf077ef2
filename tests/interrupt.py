"""A Lightning callback that stops training with an error after a given step (to test resuming)."""

from __future__ import annotations

import lightning as L


class InterruptAt(L.Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            raise RuntimeError(f"interrupted after step {self.step}")
