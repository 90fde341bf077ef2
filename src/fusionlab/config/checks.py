"""Checks a composed config before anything is read, generated or cached: the fusion, task and dataset
go together, and every setting is in its range. Each message names the key, the value and what fits.
A value outside an option's type or fixed set fails earlier still, while the config is composed
(fusionlab.schema)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from fusionlab.config.unread_keys import refuse_unread_keys
from fusionlab.run.folder import RESUME_CHOICES
from fusionlab.schema import OPTIONS

SCHEDULES = ("linear", "constant")  # fusionlab.model.FusionModel.configure_optimizers
NO_BATCHES = {  # a trainer limit of 0 batches, and the run it would record
    "limit_train_batches": "an untrained model is recorded as the run's result",
    "limit_val_batches": "no checkpoint is chosen and the last weights are tested as the run's result",
    "limit_test_batches": "the run records no test score"}


def method_declaration(cfg: DictConfig) -> dict:
    """What the fusion method declares in its config (``fusion.declaration``), resolved for its options:
    ``{"tasks": [...], "needs": {"image_mode", "load_aux", "target_pixels"}, "encoders": {argument: key}}``.
    ``needs`` are the datamodule's keywords; ``encoders`` maps a constructor argument to the key of the
    ``encoder`` config that builds it."""
    declaration = OmegaConf.to_container(cfg.fusion.declaration, resolve=True, enum_to_str=True)
    return {key: declaration[key] for key in ("tasks", "needs", "encoders")}


def check_combination(cfg: DictConfig) -> None:
    """Fail at config time when the fusion, task and dataset do not go together, or the fusion's options
    do not go together."""
    fusion, task, dataset = cfg.fusion.name, cfg.task.name, cfg.dataset.name
    declared = method_declaration(cfg)
    if task not in declared["tasks"]:
        tasks = ", ".join(declared["tasks"])
        raise ValueError(f"fusion {fusion!r} serves task{'s' * (len(declared['tasks']) > 1)} {tasks}, not {task!r} "
                         f"(fusion.declaration.tasks, as its options set them)")
    for argument, key in declared["encoders"].items():
        if key not in cfg.encoder:
            raise ValueError(f"fusion {fusion!r} takes {argument} from encoder.{key}, which the encoder config lacks")
    check_options(cfg.fusion)
    OPTION_RULES.get(cfg.fusion.family, lambda module: None)(cfg.fusion.module)
    if task not in cfg.dataset.tasks:
        raise ValueError(f"dataset {dataset!r} serves tasks {sorted(cfg.dataset.tasks)}, not {task!r} "
                         f"(fusion={fusion})")


def check_options(fusion: DictConfig, where: str = "fusion") -> None:
    """Every option of the fusion's module is one its schema knows (Hydra's ``+key`` adds a key past a
    schema): an unknown one is refused here, named, before any data; for PMEI, its base's too."""
    options = {key: value for key, value in fusion.module.items() if not str(key).startswith("_")}
    try:
        OmegaConf.merge(OmegaConf.structured(OPTIONS[str(fusion.family)]), options)
    except OmegaConfBaseException as error:
        raise ValueError(f"{where}.module: {str(error).splitlines()[0]} (the options of {fusion.family}: "
                         f"fusionlab.schema.{fusion.family})") from error
    if fusion.get("base") is not None:
        check_options(fusion.base, f"{where}.base")


def check_mase_modalities(module: DictConfig) -> None:
    modalities = [str(m) for m in module.modalities]
    if not modalities or modalities[0] != "text" or len(set(modalities)) != len(modalities):
        raise ValueError(f"fusion.module.modalities={modalities}: MASE's modalities start with text and name "
                         f"each of text, image, proxy at most once")


def check_muse_theta(module: DictConfig) -> None:
    if not 0 <= module.theta <= 1:
        raise ValueError(f"fusion.module.theta={module.theta}: the exchanged proportion of tokens is in [0, 1]")


# Rules across a method's options that their types alone do not state, by fusion.family
OPTION_RULES = {"mase": check_mase_modalities, "muse": check_muse_theta}


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
    """Nonsense values, and keys nothing reads, get a message here, not Lightning's or torch's internals later."""
    refuse_unread_keys(cfg)
    trainer = cfg.trainer
    if not trainer.get("fast_dev_run"):
        if trainer.get("max_steps", -1) in (-1, None):
            _at_least(cfg, "trainer.max_epochs", 1, " (or set trainer.max_steps)")
        else:
            _at_least(cfg, "trainer.max_steps", 1, " (or -1: trainer.max_epochs decides); a run that never steps "
                                                    "records an untrained model")
    for key, consequence in NO_BATCHES.items():
        value = trainer.get(key)
        if value is not None and not value > 0:
            raise ValueError(f"trainer.{key}={value}: must be positive (a share of the batches or a number of them); "
                             f"with no batches {consequence}")
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
    for key in ("optim.lr", "optim.encoder_lr"):
        if not cfg_select(cfg, key) > 0:
            raise ValueError(f"{key}={cfg_select(cfg, key)}: learning rates must be positive")
    if not cfg.optim.head_lr >= 0:
        raise ValueError(f"optim.head_lr={cfg.optim.head_lr}: must be positive, or 0 to keep the task heads "
                         f"at their initialisation")
    if cfg.optim.schedule not in SCHEDULES:
        raise ValueError(f"optim.schedule={cfg.optim.schedule}: expected one of {SCHEDULES}")
    if not 0 <= cfg.optim.warmup_ratio < 1:
        raise ValueError(f"optim.warmup_ratio={cfg.optim.warmup_ratio}: must be in [0, 1)")
    if cfg.get("ckpt_path") is not None and str(cfg.resume).lower() != "auto" and cfg.resume != cfg.ckpt_path:
        raise ValueError(f"ckpt_path={cfg.ckpt_path} and resume={cfg.resume}: ckpt_path is another spelling of "
                         f"resume=<checkpoint path>; give one of the two")
    resume = str(cfg.resume).lower()
    if resume not in RESUME_CHOICES[:-1] and not Path(str(cfg.resume)).is_file():  # the last one: a path
        raise ValueError(f"resume={cfg.resume}: expected one of {RESUME_CHOICES}")
    if cfg.get("ckpt_path") is not None and not Path(str(cfg.ckpt_path)).is_file():
        raise ValueError(f"ckpt_path={cfg.ckpt_path}: no such checkpoint file")


def resume_choice(cfg: DictConfig):
    """``resume``, or the checkpoint ``ckpt_path`` names (lightning-hydra-template's spelling of it)."""
    return cfg.ckpt_path if cfg.get("ckpt_path") is not None else cfg.resume
