"""``python -m fusionlab.evaluate run_dir=<dir> [test_images=shuffled|removed] [trainer=ddp_cpu]``, or
``python -m fusionlab.evaluate run_dir=<dir> corruption=<kind> [levels=[0,0.5,1]]``.

Rebuilds a finished run from the resolved config in its ``results.json``, loads its best
checkpoint and tests it again: with its images shuffled across the test samples or removed
(the robustness protocol; ``clean`` re-tests as trained), on any trainer (``trainer=ddp_cpu``
tests on 2 processes: each sample is scored once and the metrics are synchronised); writes
``<run_dir>/evaluation_<test_images>.json``. With ``corruption``, tests it at every level of a graded
corruption (``fusionlab.data.corruption``, MultiBench's robustness curves) and writes
``<run_dir>/robustness_<kind>.json``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from fusionlab import CONF
from fusionlab.callbacks import PredictionDump
from fusionlab.results import per_group
from fusionlab.train import assemble

log = logging.getLogger(__name__)


def _test(run_dir: Path, saved: dict, checkpoint: str | Path, trainer_config: DictConfig, data: dict,
          output: str) -> tuple[dict, object]:
    """Test the run's checkpoint with ``data`` overrides of its config; the metrics and the assembly."""
    cfg = OmegaConf.create(saved["config"])
    for key, value in data.items():
        OmegaConf.update(cfg, f"data.{key}", value, force_add=True)
    cfg.output_dir = str(run_dir / output)
    Path(cfg.output_dir).mkdir(exist_ok=True)
    L.seed_everything(cfg.seed, workers=True)
    weights = torch.load(checkpoint, map_location="cpu", weights_only=True)
    parts = assemble(cfg, labels=weights["fusionlab"]["labels"])  # the heads' vocabulary, as trained
    parts.model.load_state_dict(weights["state_dict"])
    trainer = instantiate(trainer_config, logger=False, default_root_dir=cfg.output_dir, callbacks=[PredictionDump()])
    metrics = trainer.test(parts.model, datamodule=parts.datamodule, verbose=False)[0]
    return {"test": {k.removeprefix("test/"): float(v) for k, v in metrics.items() if k.startswith("test/")},
            "test_groups": per_group(metrics)}, (parts, trainer)


def evaluate(run_dir: str | Path, checkpoint: str | Path, test_images: str, trainer_config: DictConfig) -> dict:
    run_dir = Path(run_dir)
    saved = json.loads((run_dir / "results.json").read_text())
    metrics, (parts, trainer) = _test(run_dir, saved, checkpoint, trainer_config, {"test_images": test_images},
                                      f"evaluate_{test_images}")
    record = {"fusion": saved["fusion"], "task": saved["task"], "dataset": saved["dataset"], "seed": saved["seed"],
              "test_images": test_images, "checkpoint": str(checkpoint), "processes": trainer.world_size,
              "metrics": metrics, "data": parts.datamodule.stats["splits"]["test"]}
    if trainer.is_global_zero:
        (run_dir / f"evaluation_{test_images}.json").write_text(json.dumps(record, indent=2))
        log.info("%s", json.dumps(record["metrics"]["test"], indent=2))
    return record


def robustness_curve(run_dir: str | Path, checkpoint: str | Path, kind: str, levels: list[float],
                     trainer_config: DictConfig) -> dict:
    """The run's checkpoint tested at every ``level`` of one corruption (``fusionlab.data.corruption``);
    writes ``<run_dir>/robustness_<kind>.json`` (the report draws score against level and its area)."""
    run_dir = Path(run_dir)
    saved = json.loads((run_dir / "results.json").read_text())
    points = []
    for level in levels:
        metrics, (_, trainer) = _test(run_dir, saved, checkpoint, trainer_config,
                                      {"test_corruption": {"kind": kind, "level": float(level)}}, f"robustness_{kind}")
        points.append({"level": float(level), "metrics": metrics})
    record = {"fusion": saved["fusion"], "task": saved["task"], "dataset": saved["dataset"], "seed": saved["seed"],
              "corruption": kind, "checkpoint": str(checkpoint), "points": points}
    if trainer.is_global_zero:
        (run_dir / f"robustness_{kind}.json").write_text(json.dumps(record, indent=2))
    return record


@hydra.main(version_base="1.3", config_path=CONF, config_name="evaluate")
def main(cfg: DictConfig) -> None:
    if cfg.corruption:
        robustness_curve(cfg.run_dir, cfg.checkpoint, cfg.corruption, list(cfg.levels), cfg.trainer)
    else:
        evaluate(cfg.run_dir, cfg.checkpoint, cfg.test_images, cfg.trainer)


if __name__ == "__main__":
    main()
