"""A Lightning callback that records what results.json reports: every validation's metrics with the
epoch and step it ran at (the best one is then read from the checkpoint actually kept), training time
per epoch and evaluation time."""

from __future__ import annotations

import time

import lightning as L


class RunRecorder(L.Callback):
    def __init__(self):
        self.val_history: list[dict] = []  # {"epoch", "step", "metrics"} per validation
        self.epoch_seconds: list[float] = []
        self.train_samples = 0
        self.test_seconds = 0.0

    def state_dict(self) -> dict:
        """Kept in checkpoints, so that a resumed run reports every epoch, and its efficiency over every
        attempt: the samples trained so far and the seconds already spent in the current epoch (the time
        of the work a crash lost after the checkpoint is lost with that work, and never counted)."""
        started = getattr(self, "_epoch_start", None)
        return {"val_history": self.val_history, "epoch_seconds": self.epoch_seconds,
                "train_samples": self.train_samples,
                "epoch_elapsed": time.perf_counter() - started if started is not None else 0.0}

    def load_state_dict(self, state: dict) -> None:
        self._restored = state  # applied when training resumes, not when a checkpoint is loaded to test

    def on_train_start(self, trainer, module):
        elapsed = self.restore()
        # a run resumed mid-epoch gets no on_train_epoch_start: its epoch began before the resume
        self._epoch_start = time.perf_counter() - elapsed

    def restore(self) -> float:
        """Apply a loaded checkpoint's record (once); the seconds its epoch had run. Also called after
        ``fit``: resuming a run whose training was done (killed while testing), Lightning skips
        ``on_train_start``, and the record would lose every validation."""
        restored, self._restored = getattr(self, "_restored", None), None
        if not restored:
            return 0.0
        self.val_history, self.epoch_seconds = restored["val_history"], restored["epoch_seconds"]
        self.train_samples = restored["train_samples"]
        return restored.get("epoch_elapsed", 0.0)  # absent from checkpoints of older runs

    def on_train_epoch_start(self, trainer, module):
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.train_samples += len(batch["examples"])

    def on_train_epoch_end(self, trainer, module):
        self.epoch_seconds.append(time.perf_counter() - self._epoch_start)

    def on_validation_end(self, trainer, module):
        """After the module has logged this validation's metrics (``on_validation_epoch_end`` of a
        callback runs before the module's, and would still see the previous epoch's)."""
        if not trainer.sanity_checking:
            self.val_history.append({"epoch": trainer.current_epoch, "step": trainer.global_step,
                                     "metrics": {k[4:]: float(v) for k, v in trainer.callback_metrics.items()
                                                 if k.startswith("val/")}})

    def validation_at(self, step: int) -> dict | None:
        """The validation that ran at global ``step`` (what a checkpoint saved then was chosen by)."""
        return next((entry for entry in self.val_history if entry["step"] == step), None)

    def on_test_start(self, trainer, module):
        self._test_start = time.perf_counter()

    def on_test_end(self, trainer, module):
        self.test_seconds = time.perf_counter() - self._test_start
