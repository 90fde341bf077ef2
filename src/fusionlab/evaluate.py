"""``python -m fusionlab.evaluate run_dir=<dir> [test_images=shuffled|removed] [trainer=ddp_cpu]``, or
``python -m fusionlab.evaluate run_dir=<dir> corruption=<kind> [levels=[0,0.5,1]]``, or
``python -m fusionlab.evaluate run_dir=<dir> test_file=<another test file of the dataset>``.

Rebuilds a finished run from its ``results.json`` (untrusted input: its config selects and sets the
registered one, fusionlab.config.stored), loads its best checkpoint (refused when another run wrote it)
and tests it again: with its images shuffled across the test samples or removed
(the robustness protocol; ``clean`` re-tests as trained), on any trainer (``trainer=ddp_cpu``
tests on 2 processes: each sample is scored once and the metrics are synchronised); writes
``<run_dir>/evaluation_<test_images>.json``. With ``corruption``, tests it at every level of a graded
corruption (``fusionlab.data.corruption``, MultiBench's robustness curves) and writes
``<run_dir>/robustness_<kind>.json``. With ``test_file``, tests it on another version of the dataset's test
split (Twitter-2015's revised labels for a run trained on the original ones, say) and writes
``<run_dir>/evaluation_test_<sha256 prefix>.json`` with that file's release (fusionlab.data.releases): the
report sets the two scores side by side.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import hydra
import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from fusionlab import CONF
from fusionlab.api.callable_module import make_callable
from fusionlab.callbacks import PredictionDump
from fusionlab.config.stored import described_checkpoint, trusted_config
from fusionlab.console.noise import quiet_known_noise
from fusionlab.console.summary import evaluation_summary
from fusionlab.data.releases import data_card
from fusionlab.run.folder import RunFolder
from fusionlab.run.results import per_group
from fusionlab.storage.records import read_json
from fusionlab.train import assemble

log = logging.getLogger(__name__)


def _read_run(run_dir: Path, checkpoint: str | Path) -> tuple[dict, DictConfig, dict]:
    """The run's ``results.json``, the config that rebuilds it (``results.json`` is untrusted input:
    fusionlab.config.stored) and ``checkpoint``'s contents, refused unless the run of ``run_dir`` wrote it."""
    path = run_dir / "results.json"
    saved = read_json(path, "re-run the run's training command to write it again, then evaluate")
    config = trusted_config(saved.get("config"), str(path))
    weights = described_checkpoint(checkpoint)
    trained_in, written_in = _trained_in(saved["config"]), _trained_in(weights["fusionlab"].get("config"))
    if written_in != trained_in:
        raise ValueError(f"checkpoint={checkpoint} was written by the run trained in {written_in}, not by the run "
                         f"of run_dir={run_dir} (trained in {trained_in}): its scores would be recorded as this "
                         f"run's. Evaluate it with run_dir=<the folder of the run that wrote it>")
    return saved, config, weights


def _trained_in(stored_config) -> str | None:
    """The folder a stored run config trained in (``output_dir``): the run's identity."""
    return stored_config.get("output_dir") if isinstance(stored_config, dict) else None


def _test(run_dir: Path, config: DictConfig, weights: dict, trainer_config: DictConfig, data: dict,
          output: str, test_file: str | None = None) -> tuple[dict, object]:
    """Test the run's checkpoint with ``data`` overrides of its config (and another test split file);
    the metrics and the assembly."""
    cfg = copy.deepcopy(config)
    for key, value in data.items():
        OmegaConf.update(cfg, f"data.{key}", value, force_add=True)
    if test_file is not None:
        cfg.dataset.tasks[cfg.task.name].splits.test = test_file
    cfg.output_dir = str(run_dir / output)
    L.seed_everything(cfg.seed, workers=True)
    parts = assemble(cfg, labels=weights["fusionlab"]["labels"])  # the heads' vocabulary, as trained
    parts.model.load_state_dict(weights["state_dict"])
    trainer = instantiate(trainer_config, logger=False, default_root_dir=cfg.output_dir, callbacks=[PredictionDump()])
    metrics = trainer.test(parts.model, datamodule=parts.datamodule, verbose=False)[0]
    return {"test": {k.removeprefix("test/"): float(v) for k, v in metrics.items() if k.startswith("test/")},
            "test_groups": per_group(metrics)}, (parts, trainer)


def evaluate(run_dir: str | Path, checkpoint: str | Path, test_images: str, trainer_config: DictConfig,
             test_file: str | Path | None = None) -> dict:
    run_dir = Path(run_dir)
    saved, config, weights = _read_run(run_dir, checkpoint)
    card = None
    if test_file is not None:
        if not Path(test_file).is_file():
            raise FileNotFoundError(f"test_file={test_file}: no such file")
        card = data_card(saved["dataset"], {"test": test_file}, config.data.cache_dir)
    name = f"test_{card['files']['test']['sha256'][:12]}" if card else test_images
    metrics, (parts, trainer) = _test(run_dir, config, weights, trainer_config, {"test_images": test_images},
                                      f"evaluate_{name}", None if card is None else str(test_file))
    record = {"fusion": saved["fusion"], "task": saved["task"], "dataset": saved["dataset"], "seed": saved["seed"],
              "test_images": test_images, "checkpoint": str(checkpoint), "processes": trainer.world_size,
              "metrics": metrics, "data": parts.datamodule.stats["splits"]["test"]}
    if card is not None:  # the release of the test file read, and the file itself
        record.update(test_file=card["files"]["test"], release=card["release"])
    path = RunFolder(run_dir, writer=trainer.is_global_zero).write(f"evaluation_{name}.json",
                                                                   json.dumps(record, indent=2))
    if trainer.is_global_zero:
        log.info("%s", evaluation_summary(record, path))
    return record



def robustness_curve(run_dir: str | Path, checkpoint: str | Path, kind: str, levels: list[float],
                     trainer_config: DictConfig) -> dict:
    """The run's checkpoint tested at every ``level`` of one corruption (``fusionlab.data.corruption``);
    writes ``<run_dir>/robustness_<kind>.json`` (the report draws score against level and its area)."""
    run_dir = Path(run_dir)
    saved, config, weights = _read_run(run_dir, checkpoint)
    points = []
    for level in levels:
        metrics, (_, trainer) = _test(run_dir, config, weights, trainer_config,
                                      {"test_corruption": {"kind": kind, "level": float(level)}}, f"robustness_{kind}")
        points.append({"level": float(level), "metrics": metrics})
    record = {"fusion": saved["fusion"], "task": saved["task"], "dataset": saved["dataset"], "seed": saved["seed"],
              "corruption": kind, "checkpoint": str(checkpoint), "points": points}
    path = RunFolder(run_dir, writer=trainer.is_global_zero).write(f"robustness_{kind}.json",
                                                                   json.dumps(record, indent=2))
    if trainer.is_global_zero:
        log.info("%s", evaluation_summary(record, path))
    return record


@hydra.main(version_base="1.3", config_path=CONF, config_name="evaluate")
def main(cfg: DictConfig) -> None:
    """Test the run again as the keys say; print the scores and the file they were written to."""
    quiet_known_noise()
    if cfg.corruption:
        robustness_curve(cfg.run_dir, cfg.checkpoint, cfg.corruption, list(cfg.levels), cfg.trainer)
    else:
        evaluate(cfg.run_dir, cfg.checkpoint, cfg.test_images, cfg.trainer, cfg.test_file)


# fusionlab.evaluate(run_dir) from Python: this module, called, is fusionlab.api.evaluation.evaluate
make_callable(__name__, "fusionlab.api.evaluation:evaluate")


if __name__ == "__main__":
    main()
