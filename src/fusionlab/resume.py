"""Resuming an interrupted run with the same result.

Three things make a resumed run retrace the uninterrupted one on CPU: the model, optimiser,
scheduler and loop state in Lightning's checkpoint (``last.ckpt``, written every
``checkpoint_every_n_steps`` steps, found by the run's identity: ``fusionlab.run_identity``); the
training order (``EpochSampler``, and the datamodule's count of the epoch's batches already trained
on, also kept in the checkpoint); and ``StepSeeder``, which reseeds torch before every training step
from (seed, step), so dropout and the methods' sampling do not depend on how many steps ran in this
process.
"""

from __future__ import annotations

import lightning as L
import torch


class StepSeeder(L.Callback):
    def __init__(self, seed: int):
        self.seed = seed

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        torch.manual_seed(self.seed * 1_000_003 + trainer.global_step)
