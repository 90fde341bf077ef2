"""MASE's E-step as Lightning runs it: a callback that holds the estimation loader and, at
``em_iterations`` evenly spaced global steps (round 0 trains with uniform z), has the method
estimate I(h^m; y) on the first ``estimation_samples`` training sentences and set z
(``MASE.expectation_step``, Eq. 10-11). z and the estimates are logged every round."""

from __future__ import annotations

import lightning as L


class ExpectationStep(L.Callback):
    def __init__(self, method):
        self.method = method
        self.loader = None

    def on_fit_start(self, trainer, module):
        self.loader = trainer.datamodule.estimation_loader(self.method.estimation_samples)

    def round_starts(self, trainer) -> list[int]:
        """Global steps at which rounds 1 .. em_iterations-1 begin."""
        total, rounds = trainer.estimated_stepping_batches, self.method.em_iterations
        return [round(r * total / rounds) for r in range(1, rounds)]

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        done = int((~self.method.trajectory.isnan().any(-1)).sum())  # rounds whose z is set (a resumed run's too)
        starts = self.round_starts(trainer)
        if done - 1 < len(starts) and trainer.global_step >= starts[done - 1]:
            self.estimate(trainer, module, round_index=done)

    def estimate(self, trainer, module, round_index: int) -> None:
        batches = (module.transfer_batch_to_device(batch, module.device, 0) for batch in self.loader)
        logged = self.method.expectation_step(batches, round_index,
                                              broadcast=lambda z: trainer.strategy.broadcast(z, src=0))
        for name, value in logged.items():
            module.log(name, value, on_step=True, on_epoch=False)

    def on_fit_end(self, trainer, module):
        """The trajectory of the whole fit, kept for ``results.json`` before the best checkpoint is loaded."""
        self.method.fit_history = self.method.allocation_history()
