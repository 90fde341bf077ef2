"""``eval_protocol.test_every_epoch``: a Lightning callback that scores the test split after every validation,
so that reference protocols which select on test (PMEI's code) or from a later first epoch (HVPNeT's
scripts) can be scored later from ``results.json`` (``test_history``). The clean protocol never reads it:
its checkpoint is chosen on validation alone."""

from __future__ import annotations

import lightning as L
import torch


class EpochTestScores(L.Callback):
    def __init__(self):
        self.history: list[dict] = []

    def state_dict(self) -> dict:  # kept in checkpoints, so that a resumed run keeps every epoch's entry
        return {"history": self.history}

    def load_state_dict(self, state: dict) -> None:
        self.history = state["history"]

    @torch.no_grad()
    def on_validation_end(self, trainer, module):
        if trainer.sanity_checking:
            return
        metric = module.task.output.metric().to(module.device)  # Lightning still holds the module in eval mode here
        for batch in trainer.datamodule.test_dataloader():
            batch = module.transfer_batch_to_device(trainer.datamodule.on_before_batch_transfer(batch, 0),
                                                    module.device, 0)
            module.task.output.score(metric, module.decode(batch), batch)
        self.history.append({"epoch": trainer.current_epoch, "step": trainer.global_step,
                             "metrics": {k: float(v) for k, v in metric.compute().items()}})
