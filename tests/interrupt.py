"""Lightning callbacks that stop training after a given step: with an error, or with a signal (to test resuming)."""

from __future__ import annotations

import os
import signal

import lightning as L


class InterruptAt(L.Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            raise RuntimeError(f"interrupted after step {self.step}")


class SignalAt(L.Callback):
    """Sends this process a signal (SIGTERM by default, what SLURM sends) after a given step."""

    def __init__(self, step: int, signal: str = "SIGTERM"):
        self.step, self.signal = step, signal

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), getattr(signal, self.signal))


class FailOnTest(L.Callback):
    """Stops the run as testing starts, its training done (as a kill -9 while testing would)."""

    def on_test_start(self, trainer, module):
        raise RuntimeError("interrupted while testing")
