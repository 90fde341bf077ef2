"""W&B's run summary holds each metric's last value; the run's score is its best validation (what picks
the checkpoint that is tested). So ``val/<task monitor>`` is summarised by its maximum; the test metrics,
logged once for that checkpoint, are in the summary as they are."""

from __future__ import annotations

import lightning as L

from fusionlab.callbacks.wandb_run import wandb_logger


class WandbBestScore(L.Callback):
    def on_fit_start(self, trainer, module):
        logger = wandb_logger(trainer)
        if logger is not None:  # on other processes than rank 0 its experiment does nothing
            logger.experiment.define_metric(f"val/{module.task.monitor}", summary="max")
