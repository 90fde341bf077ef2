"""Checks a composed config before anything is read, generated or cached: the fusion, task and dataset
go together, and every setting is in its range. Each message names the key, the value and what fits."""

from __future__ import annotations

from pathlib import Path

from hydra.utils import get_class
from omegaconf import DictConfig

from fusionlab.run_identity import RESUME_CHOICES


def check_combination(cfg: DictConfig) -> None:
    """Fail at config time when the fusion, task and dataset do not go together."""
    fusion, task, dataset = cfg.fusion.name, cfg.task.name, cfg.dataset.name
    get_class(cfg.fusion.module._target_).check_task(task, cfg.fusion.module)
    if task not in cfg.dataset.tasks:
        raise ValueError(f"dataset {dataset!r} serves tasks {sorted(cfg.dataset.tasks)}, not {task!r} "
                         f"(fusion={fusion})")


def _at_least(cfg: DictConfig, key: str, minimum: float, what: str = "") -> None:
    value = cfg_select(cfg, key)
    if value is not None and not value >= minimum:
        raise ValueError(f"{key}={value}: must be at least {minimum}{what}")


def cfg_select(cfg: DictConfig, key: str):
    node = cfg
    for part in key.split("."):
        node = node.get(part) if node is not None else None
    return node


def check_settings(cfg: DictConfig) -> None:
    """Nonsense values get a message here, not Lightning's or torch's internals later."""
    trainer = cfg.trainer
    if not trainer.get("fast_dev_run") and trainer.get("max_steps", -1) in (-1, None):
        _at_least(cfg, "trainer.max_epochs", 1, " (or set trainer.max_steps)")
    for key in ("data.batch_size", "data.eval_batch_size", "checkpoint_every_n_steps"):
        _at_least(cfg, key, 1)
    _at_least(cfg, "data.max_length", 8, ": room for [CLS], [SEP] and a few words")
    _at_least(cfg, "data.max_aux", 0)
    _at_least(cfg, "seed", 0)
    minutes = cfg.get("checkpoint_every_minutes")
    if minutes is not None and not minutes > 0:
        raise ValueError(f"checkpoint_every_minutes={minutes}: must be positive, or null to checkpoint by steps")
    if not 0 < cfg.data.sample_ratio <= 1:
        raise ValueError(f"data.sample_ratio={cfg.data.sample_ratio}: must be in (0, 1]")
    for key in ("optim.lr", "optim.encoder_lr", "optim.head_lr"):
        if not cfg_select(cfg, key) > 0:
            raise ValueError(f"{key}={cfg_select(cfg, key)}: learning rates must be positive")
    if not 0 <= cfg.optim.warmup_ratio < 1:
        raise ValueError(f"optim.warmup_ratio={cfg.optim.warmup_ratio}: must be in [0, 1)")
    resume = str(cfg.resume).lower()
    if resume not in ("auto", "true", "false") and not Path(str(cfg.resume)).is_file():
        raise ValueError(f"resume={cfg.resume}: expected one of {RESUME_CHOICES}")
