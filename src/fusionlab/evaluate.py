"""``python -m fusionlab.evaluate run_dir=<dir> [test_images=shuffled|removed] [trainer=ddp_cpu]``.

Rebuilds a finished run from the resolved config in its ``results.json``, loads its best
checkpoint and tests it again: with its images shuffled across the test samples or removed
(the robustness protocol; ``clean`` re-tests as trained), on any trainer (``trainer=ddp_cpu``
tests on 2 processes: each sample is scored once and the metrics are synchronised).
Writes ``<run_dir>/evaluation_<test_images>.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from fusionlab.results import per_group
from fusionlab.train import assemble


def evaluate(run_dir: str | Path, checkpoint: str | Path, test_images: str, trainer_config: DictConfig) -> dict:
    run_dir = Path(run_dir)
    saved = json.loads((run_dir / "results.json").read_text())
    cfg = OmegaConf.create(saved["config"])
    cfg.data.test_images = test_images
    cfg.output_dir = str(run_dir / f"evaluate_{test_images}")
    Path(cfg.output_dir).mkdir(exist_ok=True)
    L.seed_everything(cfg.seed, workers=True)
    weights = torch.load(checkpoint, map_location="cpu", weights_only=True)
    parts = assemble(cfg, labels=weights["fusionlab"]["labels"])  # the heads' vocabulary, as trained
    parts.model.load_state_dict(weights["state_dict"])
    trainer = instantiate(trainer_config, logger=False, default_root_dir=cfg.output_dir)
    metrics = trainer.test(parts.model, datamodule=parts.datamodule, verbose=False)[0]
    record = {"fusion": saved["fusion"], "task": saved["task"], "dataset": saved["dataset"], "seed": saved["seed"],
              "test_images": test_images, "checkpoint": str(checkpoint), "processes": trainer.world_size,
              "metrics": {"test": {k.removeprefix("test/"): float(v) for k, v in metrics.items()
                                   if k.startswith("test/")},
                          "test_groups": per_group(metrics)},
              "data": parts.datamodule.stats["splits"]["test"]}
    if trainer.is_global_zero:
        (run_dir / f"evaluation_{test_images}.json").write_text(json.dumps(record, indent=2))
        print(json.dumps(record["metrics"]["test"], indent=2))
    return record


@hydra.main(version_base="1.3", config_path="../../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    evaluate(cfg.run_dir, cfg.checkpoint, cfg.test_images, cfg.trainer)


if __name__ == "__main__":
    main()
