"""Resuming an interrupted run with the same result.

Three things make a resumed run retrace the uninterrupted one on CPU: the model, optimiser,
scheduler and loop state in Lightning's checkpoint (``last.ckpt``, written every
``checkpoint_every_n_steps`` steps, found by the run's identity: ``fusionlab.run.identity``); the
training order (``EpochSampler``, and the datamodule's count of the epoch's batches already trained
on, also kept in the checkpoint); and ``StepSeeder``, which reseeds torch before every training step
from (seed, step), so dropout and the methods' sampling do not depend on how many steps ran in this
process.

A resume point is never taken after an epoch's last batch: Lightning resumes such a checkpoint past the
epoch's validation without running it (so ``best.ckpt`` and ``val_history`` would miss it). ``ResumePoint``
skips that one and ``EpochEndResumePoint`` writes ``last.ckpt`` once the epoch's validation has run instead.
"""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint


class StepSeeder(L.Callback):
    def __init__(self, seed: int):
        self.seed = seed

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        torch.manual_seed(self.seed * 1_000_003 + trainer.global_step)


class ResumePoint(ModelCheckpoint):
    """``last.ckpt`` every n steps (or minutes), except after an epoch's last batch."""

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if batch_idx + 1 < trainer.num_training_batches:  # also when limit_train_batches ends the epoch early
            super().on_train_batch_end(trainer, module, outputs, batch, batch_idx)


def resume_points(folder, every: dict) -> list[ModelCheckpoint]:
    """``last.ckpt``: within epochs (``every``: ``every_n_train_steps`` or ``train_time_interval``) and after
    each epoch's validation (with its ``val_history`` entry and the best score so far)."""
    common = {"dirpath": folder, "save_top_k": 0, "save_last": True, "enable_version_counter": False}  # one file
    return [ResumePoint(**common, **every), ModelCheckpoint(**common, every_n_epochs=1)]
