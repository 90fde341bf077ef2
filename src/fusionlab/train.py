"""Hydra entry point: ``python -m fusionlab.train fusion=<f> task=<t> dataset=<d> seed=<s>``.

Fits on train, picks the best epoch by the task's validation metric, tests that
checkpoint, and writes ``results.json`` and the test predictions into the run directory.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import get_class, instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger
from omegaconf import DictConfig, OmegaConf

from fusionlab.data.datamodule import FusionDataModule
from fusionlab.fusion.base import FusionModule
from fusionlab.media import WandbMedia
from fusionlab.recorder import RunRecorder
from fusionlab.results import build_results, reset_peak_memory, write_failure, write_results
from fusionlab.resume import StepSeeder, resume_checkpoint
from fusionlab.transfer import transfer_weights
from fusionlab.tasks.base import Task

log = logging.getLogger(__name__)


def sweep_group() -> str:
    """The sweep a run belongs to (its multirun directory's name), or ``single``."""
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return Path(HydraConfig.get().sweep.dir).name
    return "single"


OmegaConf.register_new_resolver("sweep_group", sweep_group, replace=True)


def check_combination(cfg: DictConfig) -> None:
    """Fail at config time when the fusion, task and dataset do not go together."""
    fusion, task, dataset = cfg.fusion.name, cfg.task.name, cfg.dataset.name
    get_class(cfg.fusion.module._target_).check_task(task, cfg.fusion.module)
    if task not in cfg.dataset.tasks:
        raise ValueError(f"dataset {dataset!r} serves tasks {sorted(cfg.dataset.tasks)}, not {task!r} "
                         f"(fusion={fusion})")


@dataclass
class Assembly:
    task: Task
    datamodule: FusionDataModule
    model: FusionModule


def assemble(cfg: DictConfig) -> Assembly:
    """Encoders, task, datamodule (set up) and LightningModule, as the config names them."""
    check_combination(cfg)
    needs = get_class(cfg.fusion.module._target_).data_needs(cfg.fusion.module)
    text = instantiate(cfg.encoder.text)
    vision = instantiate(cfg.encoder.vision) if needs["image_mode"] != "none" else None
    task = instantiate(cfg.task.head)
    text.add_special_tokens(list(task.special_tokens))
    datamodule = instantiate(cfg.data, dataset=OmegaConf.to_container(cfg.dataset, resolve=True), task=task,
                             tokenizer=text.tokenizer, seed=cfg.seed, **needs)
    if vision is not None:
        datamodule.attach_vision(vision)
    datamodule.setup()  # fixes the label vocabulary the head is sized by
    extras = {argument: instantiate(cfg.encoder[key])
              for argument, key in get_class(cfg.fusion.module._target_).extra_encoders(cfg.fusion.module).items()}
    model = instantiate(cfg.fusion.module, task=task, text_encoder=text, vision_encoder=vision, **extras,
                        **cfg.optim, _convert_="all")  # plain dicts, so that checkpoints load with weights_only
    return Assembly(task, datamodule, model)


def run(cfg: DictConfig) -> dict:
    reset_peak_memory()
    L.seed_everything(cfg.seed, workers=True)
    run_dir = Path(cfg.output_dir)
    parts = assemble(cfg)
    task, datamodule, model = parts.task, parts.datamodule, parts.model
    if cfg.init_from:  # cross-task transfer: everything but the task's heads
        transfer_weights(model, cfg.init_from)

    # best.ckpt (what is tested, evaluated, predicted with and transferred) holds the weights only: the
    # optimiser state would triple its size. last.ckpt holds everything a resume needs; it is removed
    # once the run has finished, so a sweep does not keep two checkpoints per run.
    checkpoint = ModelCheckpoint(dirpath=run_dir / "checkpoints", monitor=f"val/{task.monitor}", mode="max",
                                 save_top_k=1, filename="best", save_weights_only=True)
    last = ModelCheckpoint(dirpath=run_dir / "checkpoints", save_top_k=0, save_last=True,
                           every_n_train_steps=cfg.checkpoint_every_n_steps)  # what resume=true starts from
    recorder = RunRecorder()
    logger = instantiate(cfg.logger) if cfg.logger else False
    if logger:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    callbacks = [checkpoint, last, recorder, StepSeeder(cfg.seed), WandbMedia(), *map(instantiate, cfg.callbacks)]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=logger, default_root_dir=str(run_dir))
    trainer.fit(model, datamodule=datamodule, ckpt_path=resume_checkpoint(cfg.resume, run_dir))
    if trainer.is_global_zero and last.last_model_path:
        Path(last.last_model_path).unlink(missing_ok=True)
    test_metrics = trainer.test(model, datamodule=datamodule, ckpt_path="best", verbose=False)[0]
    if isinstance(logger, WandbLogger):
        logger.experiment.finish()  # flush now: the next run of a sweep may start in this process

    results = build_results(config=OmegaConf.to_container(cfg, resolve=True), monitor=task.monitor,
                            recorder=recorder, test_metrics=test_metrics, model=model,
                            data_stats=datamodule.stats, failed_images=sum(datamodule.store.failed.values()))
    if trainer.is_global_zero:
        path = write_results(results, run_dir)
        print(f"test metrics ({results['fusion']} / {results['task']} / {results['dataset']}, seed {cfg.seed}):")
        print(json.dumps(results["metrics"]["test"], indent=2))
        print(f"results: {path}")
    return results


@hydra.main(version_base="1.3", config_path="../../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """One run; returns the best validation score (what a sweeper optimises: never a test score).
    In a sweep (``-m``) a failing run leaves ``failed.json`` and the sweep goes on."""
    try:
        results = run(cfg)
    except Exception as error:
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            raise
        path = write_failure(OmegaConf.to_container(cfg, resolve=True), error, cfg.output_dir)
        log.exception(f"run failed; recorded in {path}; the sweep goes on")
        return float("nan")
    return results["metrics"]["val"].get(results["monitor"], float("nan"))


if __name__ == "__main__":
    main()
