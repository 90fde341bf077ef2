"""Hydra entry point: ``python -m fusionlab.train fusion=<f> task=<t> dataset=<d> seed=<s>``.

Fits on train, picks the best epoch by the task's validation metric, tests the checkpoint that
epoch left, and writes ``results.json`` and the test predictions into the run directory, whose name
is the run's identity: the same command finds the same folder (``fusionlab.run.folder.RunFolder``, which owns
it), so an interrupted run continues and a finished one is not trained again.
"""

from __future__ import annotations

import logging
import shlex
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf

from fusionlab import CONF
from fusionlab.api.callable_module import make_callable
from fusionlab.callbacks.finite_loss import StopOnNonFiniteLoss
from fusionlab.config.checks import check_combination, check_settings, method_declaration, resume_choice
from fusionlab.console.noise import quiet_known_noise
from fusionlab.console.summary import run_summary, test_summary
from fusionlab.data.datamodule import FusionDataModule
from fusionlab.model import FusionModel
from fusionlab.run.epoch_tests import EpochTestScores
from fusionlab.run.fingerprint import data_files
from fusionlab.run.folder import RunFolder, checkpoint_position
from fusionlab.run.interruption import RunInterrupted, stop, stopped_by
from fusionlab.run.lock import RunInProgressError
from fusionlab.run.performance import apply_performance
from fusionlab.run.recorder import RunRecorder
from fusionlab.run.results import build_results, code_version, device_description, reset_peak_memory
from fusionlab.run.resume import StepSeeder, resume_points
from fusionlab.run.transfer import transfer_weights
from fusionlab.tasks.base import Task

log = logging.getLogger(__name__)
# The commit this process's code came from, read as the process loads it: every run of a sweep runs this
# code, also when the checkout moves on while the sweep trains.
CODE = code_version()


@dataclass
class Assembly:
    task: Task
    datamodule: FusionDataModule
    model: FusionModel


def assemble(cfg: DictConfig, labels: dict | None = None, read_data: bool = True) -> Assembly:
    """Encoders, task, datamodule, the fusion method and the LightningModule around it, as the config
    names them. The label vocabulary the heads are sized by is fitted on the training split
    (``read_data``), or given (``labels``, from a checkpoint: then ``read_data=False`` builds the run
    without touching its dataset)."""
    check_combination(cfg)
    declared = method_declaration(cfg)
    needs = declared["needs"]
    text = instantiate(cfg.encoder.text)
    if cfg.data.max_length > text.max_positions:  # a longer sentence would crash the run when it comes
        raise ValueError(f"data.max_length={cfg.data.max_length}: text encoder {text.name!r} reads at most "
                         f"{text.max_positions} tokens (its position table); set data.max_length to at most that")
    vision = instantiate(cfg.encoder.vision) if needs["image_mode"] != "none" else None
    task = instantiate(cfg.task.head)
    if labels is not None:
        task.data.load_vocabulary(labels)
    text.add_special_tokens(list(task.data.special_tokens))
    datamodule = instantiate(cfg.data, dataset=OmegaConf.to_container(cfg.dataset, resolve=True), task=task,
                             tokenizer=text.tokenizer, seed=cfg.seed, **needs)
    if vision is not None:
        datamodule.attach_vision(vision)
    if read_data:
        datamodule.setup()
    extras = {argument: instantiate(cfg.encoder[key]) for argument, key in declared["encoders"].items()}
    method = instantiate(cfg.fusion.module, task=task, text_encoder=text, vision_encoder=vision, **extras,
                         _convert_="all")  # plain dicts, so that checkpoints load with weights_only
    if read_data:
        method.prepare(datamodule.splits["train"].examples)
    model = FusionModel(method, task, **cfg.optim)
    model.run_config = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)  # kept in every checkpoint it writes
    return Assembly(task, datamodule, model)


def training_command() -> str | None:
    """The command that makes this one run again (this job's overrides), when Hydra launched it."""
    if not HydraConfig.initialized():
        return None
    return shlex.join(["python", "-m", "fusionlab.train", *HydraConfig.get().overrides.task])  # runs as written


def checkpoint_callbacks(cfg: DictConfig, run_dir: Path, monitor: str) -> tuple[ModelCheckpoint, list[ModelCheckpoint]]:
    """best.ckpt (what is tested, evaluated, predicted with and transferred) holds the weights only: the
    optimiser state would triple its size. last.ckpt holds everything a resume needs, written every
    ``checkpoint_every_n_steps`` steps or, when set, every ``checkpoint_every_minutes`` minutes, and after
    every epoch's validation (``resume_points``); it is removed once the run has finished, so a sweep does
    not keep two checkpoints per run."""
    best = ModelCheckpoint(dirpath=run_dir / "checkpoints", monitor=f"val/{monitor}", mode="max",
                           save_top_k=1, filename="best", save_weights_only=True, enable_version_counter=False)
    every = ({"train_time_interval": timedelta(minutes=cfg.checkpoint_every_minutes)}
             if cfg.get("checkpoint_every_minutes") else {"every_n_train_steps": cfg.checkpoint_every_n_steps})
    return best, resume_points(run_dir / "checkpoints", every)


def run(cfg: DictConfig) -> dict:
    """Train, test and record one run; a finished run's recorded results are returned as they are."""
    check_settings(cfg)
    folder = RunFolder(cfg.output_dir, writer=rank_zero_only.rank == 0)
    finished = folder.finished()
    if finished is not None:
        if str(resume_choice(cfg)).lower() not in ("auto", "true", "force"):
            raise FileExistsError(f"{folder.path} holds a finished run (results.json) and resume={resume_choice(cfg)}: "
                                  f"remove the folder to train it again")
        config = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        folder.refuse_another_run(finished, config, data_files(config), CODE)
        log.warning("%s already finished: not training it again (its results.json is kept; remove the folder "
                    "to train anew)", folder.path)
        return finished
    with folder.lock() if folder.writer else nullcontext():
        return _train_and_test(cfg, folder)


def _train_and_test(cfg: DictConfig, folder: RunFolder) -> dict:
    run_dir = folder.path
    config = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    attempt = folder.start(config, CODE, resume_choice(cfg))
    if folder.writer:
        log.info("%s", run_summary(cfg, run_dir))
    reset_peak_memory()
    L.seed_everything(cfg.seed, workers=True)
    parts = assemble(cfg)
    task, datamodule, model = parts.task, parts.datamodule, parts.model
    folder.data_read(attempt, {split: f["sha256"] for split, f in datamodule.stats.get("files", {}).items()})
    model.run_fingerprint = attempt.fingerprint  # kept in every checkpoint, so a resume point names what it trained
    if cfg.init_from:  # cross-task transfer: everything but the task's heads
        transfer_weights(model, cfg.init_from)
    apply_performance(model, **cfg.performance)  # torch.compile and the float32 matmul precision

    checkpoint, resume_every = checkpoint_callbacks(cfg, run_dir, task.monitor)
    recorder = RunRecorder()
    loggers = [instantiate(node) for node in (cfg.logger or {}).values() if node is not None]  # logger=[csv,wandb]
    for logger in loggers:
        logger.log_hyperparams(config)
    resume_point = [] if cfg.trainer.get("fast_dev_run") else resume_every  # a smoke test needs no resume point
    epoch_tests = [EpochTestScores()] if cfg.eval_protocol.test_every_epoch else []  # for reference protocols
    outputs = [instantiate(callback) for callback in (cfg.callbacks or {}).values() if callback is not None]
    callbacks = [checkpoint, *resume_point, recorder, *epoch_tests, StepSeeder(cfg.seed), StopOnNonFiniteLoss(),
                 *outputs, *([LearningRateMonitor()] if loggers else [])]  # lr-* curves: it needs a logger
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, default_root_dir=str(run_dir))
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=attempt.resumed_from)
    except FloatingPointError as error:  # diverged (StopOnNonFiniteLoss): a failed run, recorded as one
        folder.fail(config, error)
        raise
    except SIGTERMException:  # Lightning's, a SystemExit with no code: the process would exit 0
        stop(f"SIGTERM during {run_dir}")
        raise RunInterrupted(f"{run_dir}: stopped by SIGTERM at step {trainer.global_step}; its resume point "
                             f"(checkpoints/last.ckpt) is kept: the same command continues it") from None
    recorder.restore()  # a resume of a run whose training was done (killed while testing) starts no training
    best = None
    if checkpoint.best_model_path:  # none under fast_dev_run, which writes no checkpoint: the last weights are tested
        best = recorder.validation_at(checkpoint_position(checkpoint.best_model_path)[1])
    elif not trainer.fast_dev_run:
        raise RuntimeError(f"{run_dir}: training ended without a validation (trainer.check_val_every_n_epoch, "
                           f"val_check_interval, max_steps or limit_val_batches left none), so no checkpoint was "
                           f"chosen: the last weights are not tested as the run's result")
    test_metrics = trainer.test(model, datamodule=datamodule, ckpt_path=checkpoint.best_model_path or None,
                                verbose=False)[0]
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.experiment.finish()  # flush now: the next run of a sweep may start in this process

    results = build_results(config=config, monitor=task.monitor, recorder=recorder, best=best,
                            test_metrics=test_metrics, model=model, data_stats=datamodule.stats,
                            failed_images=len(datamodule.unreadable), labels=task.data.vocabulary(),
                            run={"name": run_dir.name, "dir": str(run_dir.resolve()), "resumed_from": attempt.resumed_from,
                                 "fast_dev_run": bool(trainer.fast_dev_run), "code": CODE,
                                 "command": training_command(), "device": device_description(trainer.world_size),
                                 "processes": trainer.world_size})
    if epoch_tests:
        results["test_history"] = epoch_tests[0].history
    path = folder.finish(results, debug=cfg.debug_mode)  # whole or not at all: until then, last.ckpt is kept
    if folder.writer:
        log.info("%s", test_summary(results, path))
    return results


def guard_ddp_sweep(cfg: DictConfig) -> None:
    """``-m`` with a multi-process DDP trainer under a local launcher: Lightning starts each DDP child by
    re-running this command line, ``-m`` included, so every child would run the whole sweep again."""
    hydra_cfg = HydraConfig.get()
    strategy, devices = str(cfg.trainer.get("strategy", "auto")), cfg.trainer.get("devices", 1)
    spawns_children = strategy.startswith("ddp") and "spawn" not in strategy and devices not in (1, "1")
    if hydra_cfg.mode == RunMode.MULTIRUN and spawns_children and "submitit" not in hydra_cfg.launcher._target_:
        raise SystemExit(
            f"trainer.strategy={strategy} with devices={devices} cannot run under -m with the local launcher "
            f"({hydra_cfg.launcher._target_}): Lightning would re-run the whole sweep in every DDP child. Use "
            f"hydra/launcher=slurm (one job per run, one process per device), run each configuration without -m, "
            f"or use trainer.strategy=ddp_spawn.")


@hydra.main(version_base="1.3", config_path=CONF, config_name="config")
def main(cfg: DictConfig) -> float:
    """One run; returns the best validation score (what a sweeper optimises: never a test score).
    In a sweep (``-m``) a failing run leaves ``failed.json`` and the sweep goes on; after a SIGTERM the
    later runs leave ``not_started.json`` (fusionlab.run.interruption) and the process exits non-zero."""
    logging.captureWarnings(True)  # warnings reach train.log through the py.warnings logger
    quiet_known_noise()
    guard_ddp_sweep(cfg)
    if stopped_by():  # an earlier run of this sweep was stopped: this one is recorded, not trained
        path = RunFolder(cfg.output_dir).not_started(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
                                                     stopped_by())
        raise RunInterrupted(f"not started ({stopped_by()}): recorded in {path}")
    try:
        results = run(cfg)
    except Exception as error:
        if (HydraConfig.get().mode != RunMode.MULTIRUN
                or isinstance(error, (RunInProgressError, RunInterrupted))):  # the sweep stops, exit non-zero
            raise
        path = RunFolder(cfg.output_dir).fail(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True), error)
        log.exception(f"run failed; recorded in {path}; the sweep goes on")
        return float("nan")
    return results["metrics"]["val"].get(results["monitor"], float("nan"))


# fusionlab.train(overrides=[...]) from Python: this module, called, is fusionlab.api.training.train
make_callable(__name__, "fusionlab.api.training:train")


if __name__ == "__main__":
    main()
