"""The W&B logger among a trainer's loggers (``logger=wandb`` or combined, ``logger=[csv,wandb]``)."""

from __future__ import annotations

from lightning.pytorch.loggers import WandbLogger


def wandb_logger(trainer) -> WandbLogger | None:
    return next((logger for logger in trainer.loggers if isinstance(logger, WandbLogger)), None)
