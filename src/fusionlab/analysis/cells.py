"""The report's unit: a ``Cell`` holds every run of one row (a fusion and the keys that set it apart) on
one column (dataset, task, sample ratio), read from the run folders' JSON records."""

from __future__ import annotations

import json
import logging
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from fusionlab.analysis.baseline import is_setting, row_settings
from fusionlab.analysis.bootstrap import read_rows, sentence_counts
from fusionlab.analysis.protocols import protocol_scores
from fusionlab.config.result_keys import result_config
from fusionlab.storage.records import CorruptRecordError, read_json

log = logging.getLogger(__name__)
# Beyond the keys that change no result (fusionlab.config.result_keys), what never sets rows apart: the
# seed (what a row averages over), the sample ratio (a column of its own), the checkpoint a transfer
# starts from (a path per seed), the declarations (what the options, which do, imply) and PMEI's
# fusion.module.base (a copy of fusion.base.module).
TABLE_AXES = ("seed", "data.sample_ratio", "init_from", "fusion.declaration", "fusion.base.declaration",
              "fusion.module.base")


@dataclass
class Cell:
    """All runs of one fusion, with one setting of every other config key, on one (dataset, task, ratio).
    ``fusion`` is the row's name: the fusion, followed by the keys that set this row apart from the other
    runs of that fusion on the column (e.g. ``concat [optim.lr=0.0001]``)."""

    fusion: str
    column: tuple[str, str, float]  # dataset, task, sample ratio
    method: str = ""  # the fusion alone
    runs: list[dict] = field(default_factory=list)
    failed: int = 0
    unfinished: int = 0  # started (run.json) but neither finished nor failed: killed, or still training
    not_started: int = 0  # never trained: its sweep was stopped by SIGTERM first (not_started.json)
    perturbed: dict[str, list[dict]] = field(default_factory=dict)  # fusionlab.evaluate: shuffled / removed
    counts: dict = field(default_factory=dict)  # seed -> per-sentence counts (runs with their test predictions)
    protocols: list[dict] = field(default_factory=list)  # per run: score under each evaluation protocol
    curves: dict[str, list[dict]] = field(default_factory=dict)  # fusionlab.evaluate corruption=<kind>, per run
    other_tests: dict[str, list[dict]] = field(default_factory=dict)  # fusionlab.evaluate test_file=, by release

    @property
    def releases(self) -> list[str]:
        """The releases of the benchmark its runs read (``data.release``; one, as rows never pool two)."""
        return sorted({r.get("data", {}).get("release", "unknown") for r in self.runs})

    @property
    def monitor(self) -> str:
        return self.runs[0]["monitor"] if self.runs else "f1"

    def scores(self, metric: str | None = None) -> dict[int, float]:
        """Test ``metric`` (default: the task's main one) by seed."""
        return {r["seed"]: r["metrics"]["test"][metric or self.monitor] for r in self.runs
                if (metric or self.monitor) in r["metrics"]["test"]}

    def group_scores(self, group: str) -> list[float]:
        return [r["metrics"]["test_groups"][group][self.monitor] for r in self.runs
                if group in r["metrics"].get("test_groups", {})]


def _column(record: dict) -> tuple[str, str, float]:
    ratio = float(record.get("config", {}).get("data", {}).get("sample_ratio", 1.0))
    return record["dataset"], record["task"], ratio


def row_names(records: list[dict]) -> list[str]:
    """Each record's row: its fusion, plus every config key whose value differs between the runs of
    that fusion on the same column (so runs of two sweeps over a hyperparameter are never pooled), the
    release of the benchmark they read among them (``data.release``)."""
    flat = [{**result_config(r.get("config", {}), TABLE_AXES),
             "data.release": r.get("data", {}).get("release", "unknown")} for r in records]
    by_setting: dict[tuple, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        by_setting[record["fusion"], _column(record)].append(index)
    names = [record["fusion"] for record in records]
    for members in by_setting.values():
        keys = sorted({k for i in members for k in flat[i]})
        # a key absent from a run's config (added later, with a null default) is the same setting as null
        varying = [k for k in keys if len({flat[i].get(k, "None") for i in members}) > 1]
        for i in members:
            if varying:
                names[i] += " [" + ", ".join(f"{k}={flat[i].get(k, 'None')}" for k in varying) + "]"
    return names


def _found(roots: list[Path], name: str) -> list[Path]:
    return sorted({path for root in roots for path in root.rglob(name)})


def collect(root: Path | list[Path]) -> dict[tuple, Cell]:
    """Every run under ``root`` (a folder or a list of folders): finished (results.json), failed (failed.json),
    unfinished (run.json alone: killed, or still training) and not started (not_started.json: its sweep was
    stopped by SIGTERM first)."""
    roots = [Path(r) for r in root] if isinstance(root, list) else [Path(root)]
    records: list[tuple[str, dict, Path]] = []
    corrupt: list[str] = []
    for path in _found(roots, "results.json"):
        records.append(("finished", _readable(path, corrupt), path))
    for path in _found(roots, "failed.json"):
        if not (path.parent / "results.json").exists():
            records.append(("failed", _readable(path, corrupt), path))
    for path in _found(roots, "not_started.json"):  # a sweep stopped by SIGTERM before this run
        if not any((path.parent / name).exists() for name in ("results.json", "failed.json", "run.json")):
            records.append(("not_started", _readable(path, corrupt), path))
    for path in _found(roots, "run.json"):
        if not any((path.parent / name).exists() for name in ("results.json", "failed.json")):
            attempts = _readable(path, corrupt)
            records.append(("unfinished", attempts[-1] if isinstance(attempts, list) else attempts, path))
    records = [(status, record, path) for status, record, path in records if record is not None]
    if not records:
        raise ValueError(f"no readable results.json, failed.json or run.json under {', '.join(map(str, roots))}")
    cells: dict[tuple, Cell] = {}
    for (status, record, path), row in zip(records, row_names([r for _, r, _ in records])):
        column = _column(record)
        cell = cells.setdefault((row, column), Cell(row, column, record["fusion"]))
        if status == "failed":
            cell.failed += 1
        elif status == "unfinished":
            cell.unfinished += 1
        elif status == "not_started":
            cell.not_started += 1
        else:
            seeds = [r["seed"] for r in cell.runs]
            if record["seed"] in seeds:
                raise ValueError(f"{path}: a second run of {row} on {column_name(column)} with seed "
                                 f"{record['seed']} and the same config: remove the duplicate")
            cell.runs.append(record)
            try:
                rows = read_rows(path.parent)
            except json.JSONDecodeError:  # its per-sentence counts are left out
                corrupt.append(str(path.parent / "test_predictions.jsonl"))
                rows = None
            if rows is not None:
                cell.counts[record["seed"]] = sentence_counts(record["task"], record["monitor"], rows)
            cell.protocols.append(protocol_scores(record, rows))
            for curve in sorted(path.parent.glob("robustness_*.json")):
                tested = _readable(curve, corrupt)
                if tested is not None:
                    cell.curves.setdefault(tested["corruption"], []).append(tested)
            for evaluation in sorted(path.parent.glob("evaluation_*.json")):
                tested = _readable(evaluation, corrupt)
                if tested is None:
                    continue
                if "test_file" in tested:
                    cell.other_tests.setdefault(tested["release"], []).append(tested)
                elif tested["test_images"] != "clean":
                    cell.perturbed.setdefault(tested["test_images"], []).append(tested)
    if corrupt:
        log.warning("left out %d corrupt file(s) (truncated or empty; re-run or re-evaluate their runs): %s",
                    len(corrupt), ", ".join(corrupt))
    return cells


def _readable(path: Path, corrupt: list[str]):
    """The JSON record ``path`` holds; None (and ``path`` added to ``corrupt``) when it is corrupt."""
    try:
        return read_json(path, "left out of the report")
    except CorruptRecordError:
        corrupt.append(str(path))
        return None


def baseline_cell(cells: dict[tuple, Cell], cell: Cell, baseline: str) -> Cell | None:
    """The baseline run set ``cell`` is compared with. A fusion: its row with the same distinguishing keys,
    else its only row on the column. A setting ``key=value``: the row of the same fusion and settings but
    that one, which has the baseline's value (None where the key does not set the row apart)."""
    if is_setting(baseline):
        key = baseline.split("=")[0]
        method, settings = row_settings(cell.fusion)
        if not any(s.split("=")[0] == key for s in settings):
            return None
        swapped = [baseline if s.split("=")[0] == key else s for s in settings]
        return cells.get((f"{method} [{', '.join(swapped)}]", cell.column))
    suffix = cell.fusion[len(cell.method):]
    same = cells.get((baseline + suffix, cell.column))
    if same is not None:
        return same
    rows = [c for (_, column), c in cells.items() if column == cell.column and c.method == baseline]
    return rows[0] if len(rows) == 1 else None


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def spread_text(values: list[float]) -> str:
    """Mean ± std in %, or the one value and "(1 run)": one run has no spread to show."""
    mean, std = mean_std(values)
    return f"{100 * mean:.1f} ± {100 * std:.1f}" if len(values) > 1 else f"{100 * mean:.1f} (1 run)"


def absent_modalities(cell: Cell) -> list[str]:
    """What an image method's runs never saw: an effectively text-only result is never shown unmarked."""
    flags = {"no images": "no_images_found", "no crops": "no_crops_found"}
    return [text for text, key in flags.items() if any(r.get("data", {}).get(key) for r in cell.runs)]


def z_trajectories(cell: Cell) -> tuple[list[list[list[float]]], list[str]] | None:
    """MASE's z after each EM round, per seed [seeds][rounds][modalities] (the rounds every seed ran), and the
    modalities; None when no run recorded two rounds or more."""
    methods = [r["method"] for r in cell.runs if len(r.get("method", {}).get("z_trajectory", [])) > 1]
    if not methods:
        return None
    rounds = min(len(m["z_trajectory"]) for m in methods)
    return [m["z_trajectory"][:rounds] for m in methods], methods[0]["modalities"]


def allocation_means(cell: Cell) -> dict[str, list[float]] | None:
    """MASE's z trajectory per modality, averaged over the seeds (``z_trajectories``)."""
    found = z_trajectories(cell)
    if found is None:
        return None
    trajectories, modalities = found
    return {m: [statistics.fmean(t[r][i] for t in trajectories) for r in range(len(trajectories[0]))]
            for i, m in enumerate(modalities)}


def column_name(column) -> str:
    dataset, task, ratio = column
    return f"{dataset}/{task}" + (f"@{ratio:g}" if ratio != 1.0 else "")
