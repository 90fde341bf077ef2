"""One row per run and seed: what a run is (fusion, task, dataset, seed, the report's row), every test metric, its
best epoch and folder. The report writes it as ``runs.csv`` (and ``runs.parquet`` where pyarrow is installed);
``fusionlab.train(...).to_frame()`` is the same row for one run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fusionlab.analysis.cells import Cell


def run_row(record: dict) -> dict:
    """A finished run's ``results.json`` as one flat row; test metrics as ``test_<metric>``."""
    run = record.get("run") or {}
    return {"fusion": record["fusion"], "task": record["task"], "dataset": record["dataset"], "seed": record["seed"],
            "sample_ratio": float(record.get("config", {}).get("data", {}).get("sample_ratio", 1.0)),
            "release": record.get("data", {}).get("release", "unknown"), "monitor": record["monitor"],
            "best_epoch": record.get("best_epoch"),
            **{f"test_{metric}": value for metric, value in sorted(record["metrics"]["test"].items())},
            "run_dir": run.get("dir"), "command": run.get("command")}


def runs_frame(cells: dict[tuple, Cell]) -> pd.DataFrame:
    """Every finished run of the report, with its row in the report's tables (``row``: the fusion and the keys
    that set it apart), ordered as the tables are."""
    rows = [{"row": cell.fusion, **run_row(record)}
            for _, cell in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0]))
            for record in sorted(cell.runs, key=lambda r: r["seed"])]
    return pd.DataFrame(rows)


def write_runs(cells: dict[tuple, Cell], out: Path) -> list[Path]:
    """``out/runs.csv``, and ``out/runs.parquet`` where pandas finds a parquet engine (pyarrow); the paths written."""
    frame = runs_frame(cells)
    written = [out / "runs.csv"]
    frame.to_csv(written[0], index=False)
    try:
        frame.to_parquet(out / "runs.parquet", index=False)
    except ImportError:  # no parquet engine: the CSV holds the same rows
        return written
    return [*written, out / "runs.parquet"]
