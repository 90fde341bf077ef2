"""A diverged run stops: a training loss that is not finite (NaN, inf) ends the run with an error before
the optimiser steps on it, instead of training on to a result (f1 0.0) that reads like any other."""

from __future__ import annotations

import lightning as L
import torch


class StopOnNonFiniteLoss(L.Callback):
    """Checks every training loss before its backward pass; under DDP every process stops together."""

    def on_before_backward(self, trainer: L.Trainer, module: L.LightningModule, loss: torch.Tensor) -> None:
        if trainer.strategy.reduce_boolean_decision(bool(loss.isfinite()), all=True):
            return
        parts = ", ".join(f"{name} {float(value):.4g}" for name, value in trainer.callback_metrics.items()
                          if name.startswith("train/"))
        raise FloatingPointError(
            f"a training loss is not finite at step {trainer.global_step} (epoch {trainer.current_epoch}; this "
            f"process: loss {loss.item():.4g}, logged {parts or 'nothing yet'}): the run diverged and is stopped. "
            f"Lower the learning rates "
            f"(optim.lr, optim.encoder_lr, optim.head_lr) or clip gradients (trainer.gradient_clip_val)")
