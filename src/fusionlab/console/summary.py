"""A run's few lines at its start (what is trained, on what, where) and its table at the end (the test
scores, rounded, and the files written)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig
from tabulate import tabulate

from fusionlab.config.checks import method_declaration


def _encoders(cfg: DictConfig) -> str:
    text = cfg.encoder.text
    layers = f", first {text.layers} layers" if text.get("layers") else ""
    described = [f"text {text.name}{layers}{' (frozen)' if text.get('freeze') else ''}"]
    if method_declaration(cfg)["needs"]["image_mode"] != "none":
        vision = cfg.encoder.vision
        described.append(f"vision {vision.name}{' (frozen)' if vision.get('freeze') else ''}")
    return ", ".join(described)


def run_summary(cfg: DictConfig, run_dir: Path) -> str:
    """The composed config, briefly: method, task, dataset, encoders, seed, trainer and folder."""
    trainer = cfg.trainer
    length = f"{trainer.max_steps} steps" if trainer.get("max_steps", -1) not in (-1, None) else \
        f"{trainer.max_epochs} epochs"
    rows = [("method", f"{cfg.fusion.name} ({cfg.fusion.family})"), ("task", cfg.task.name),
            ("dataset", cfg.dataset.name), ("encoders", _encoders(cfg)), ("seed", cfg.seed),
            ("training", f"{length} of batch {cfg.data.batch_size} on {trainer.accelerator} "
                         f"(devices {trainer.devices}, precision {trainer.precision})"),
            ("rates", f"method {cfg.optim.lr:g}, encoders {cfg.optim.encoder_lr:g}, heads {cfg.optim.head_lr:g}, "
                      f"{cfg.optim.schedule}"),
            ("folder", str(run_dir))]
    if cfg.get("debug_mode"):
        rows.insert(0, ("debug", f"{cfg.debug_mode}: not a result (debug_results.json)"))
    if cfg.get("tags"):
        rows.append(("tags", ", ".join(map(str, cfg.tags))))
    return "run:\n" + tabulate(rows, tablefmt="plain")


def scores_table(scores: dict[str, float]) -> str:
    """Metric and value, rounded to 4 decimals."""
    return tabulate(sorted(scores.items()), headers=["metric", "value"], floatfmt=".4f", tablefmt="simple")


def evaluation_summary(record: dict, written: Path) -> str:
    """An evaluation's scores (``fusionlab.evaluate``): one table, or a row per level of a corruption."""
    title = f"{record['fusion']} / {record['task']} / {record['dataset']}, seed {record['seed']}"
    if "points" in record:  # a robustness curve
        metrics = sorted(record["points"][0]["metrics"]["test"])
        rows = [[point["level"], *(point["metrics"]["test"][m] for m in metrics)] for point in record["points"]]
        table = tabulate(rows, headers=["level", *metrics], floatfmt=".4f", tablefmt="simple")
        return f"{title}, {record['corruption']} at each level:\n{table}\nwritten: {written}"
    return f"{title}, test images {record['test_images']}:\n{scores_table(record['metrics']['test'])}\nwritten: {written}"


def test_summary(results: dict, written: Path) -> str:
    """The test scores of the tested checkpoint, rounded, and what the run folder now holds."""
    best = results.get("best_epoch")
    title = (f"test ({results['fusion']} / {results['task']} / {results['dataset']}, seed {results['seed']}, "
             f"{'best epoch ' + str(best) if best is not None else 'last weights'} by val/{results['monitor']}):")
    scores = scores_table(results["metrics"]["test"])
    folder = written.parent
    held = sorted(p.name + "/" * p.is_dir() for p in folder.iterdir() if not p.name.startswith("."))
    return f"{title}\n{scores}\nwritten in {folder}: {', '.join(held)}"
