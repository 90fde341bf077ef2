"""The test predictions as JSON lines in the run directory: one readable row per test sentence
(words, gold, predicted; its image and evaluation group), ``<name>.rank<r>.jsonl`` per process under DDP."""

from __future__ import annotations

import json

import lightning as L

from fusionlab.run.folder import RunFolder


class PredictionDump(L.Callback):
    def __init__(self, filename: str = "test_predictions.jsonl"):
        self.filename = filename
        self.rows: list[dict] = []

    def name(self, trainer) -> str:
        rank = f".rank{trainer.global_rank}" if trainer.world_size > 1 else ""
        return self.filename.replace(".jsonl", f"{rank}.jsonl")

    def on_test_epoch_start(self, trainer, module):
        self.rows = []

    def on_test_batch_end(self, trainer, module, predictions, batch, batch_idx, dataloader_idx=0):
        self.rows += [{"image": e.image, **({"group": e.group} if e.group else {}), **module.task.output.readable(e, p)}
                      for e, p in zip(batch["examples"], predictions)]

    def on_test_epoch_end(self, trainer, module):
        RunFolder(trainer.default_root_dir).write(self.name(trainer), "".join(json.dumps(row) + "\n" for row in self.rows))
        self.rows = []
