"""What the API returns: a run (``RunResult``), a re-test (``Evaluation``) and a report (``Report``), each with
``to_frame()`` (a pandas DataFrame)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fusionlab.analysis.runs_table import run_row


@dataclass(frozen=True)
class RunResult:
    """A finished run (``fusionlab.train``): its folder and what its ``results.json`` records."""

    run_dir: Path
    fusion: str
    task: str
    dataset: str
    seed: int
    metrics: dict[str, float]  # test, with the checkpoint of the best validation epoch
    val: dict[str, float]  # validation at that epoch
    best_epoch: int | None
    config: dict = field(repr=False)  # the run's whole config, resolved
    results: dict = field(repr=False)  # results.json as written

    @classmethod
    def from_results(cls, run_dir: Path, results: dict) -> RunResult:
        return cls(run_dir=run_dir, fusion=results["fusion"], task=results["task"], dataset=results["dataset"],
                   seed=results["seed"], metrics=results["metrics"]["test"], val=results["metrics"]["val"],
                   best_epoch=results.get("best_epoch"), config=results["config"], results=results)

    @property
    def checkpoint(self) -> Path:
        """The tested checkpoint: what ``fusionlab.evaluate`` and ``fusionlab.load`` read."""
        return self.run_dir / "checkpoints" / "best.ckpt"

    def to_frame(self) -> pd.DataFrame:
        """One row, as the report's ``runs.csv`` writes every run (``fusionlab.analysis.runs_table``)."""
        return pd.DataFrame([{**run_row(self.results), "run_dir": str(self.run_dir)}])


@dataclass(frozen=True)
class Evaluation:
    """A finished run's checkpoint tested again (``fusionlab.evaluate``), as recorded in its folder
    (``evaluation_<name>.json``; ``robustness_<kind>.json`` for a corruption's levels)."""

    run_dir: Path
    record: dict = field(repr=False)

    @property
    def metrics(self) -> dict:
        """The test metrics; for a corruption, those at each level ({level: metrics})."""
        if "points" in self.record:
            return {point["level"]: point["metrics"]["test"] for point in self.record["points"]}
        return self.record["metrics"]["test"]

    def to_frame(self) -> pd.DataFrame:
        """One row per test (per level for a corruption): what was tested, how, and every test metric."""
        record = self.record
        run = {key: record[key] for key in ("fusion", "task", "dataset", "seed")}
        how = ({"corruption": record["corruption"]} if "points" in record
               else {"test_images": record["test_images"], "release": record.get("release")})
        tests = self.metrics.items() if "points" in record else [(None, self.metrics)]
        return pd.DataFrame([{**run, **how, **({"level": level} if level is not None else {}),
                              **{f"test_{name}": value for name, value in sorted(metrics.items())},
                              "run_dir": str(self.run_dir)} for level, metrics in tests])


@dataclass(frozen=True, eq=False)
class Report:
    """A report's folder (``fusionlab.report``) and what it holds: the Markdown, the tables and the figures."""

    path: Path
    markdown: str = field(repr=False)  # report.md
    results: pd.DataFrame = field(repr=False)  # results.csv: every test metric per row and column, mean and std
    runs: pd.DataFrame = field(repr=False)  # runs.csv: one row per run and seed
    figures: list[Path] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> Report:
        return cls(path=path, markdown=(path / "report.md").read_text(), results=pd.read_csv(path / "results.csv"),
                   runs=pd.read_csv(path / "runs.csv"), figures=sorted(path.glob("*.png")))

    def to_frame(self) -> pd.DataFrame:
        """One row per run and seed (``runs``)."""
        return self.runs
