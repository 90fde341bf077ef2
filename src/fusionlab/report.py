"""``python -m fusionlab.report runs=<multirun dir> [out=<dir>] [publish=docs/results.md title="..."]
[baseline=<fusion>]`` or ``python -m fusionlab.report runs=[<dir>,<dir>] out=<dir>``: comparison tables and plots.

A Hydra app (``conf/report.yaml`` documents every key) that writes no Hydra output folder. Reads every
``results.json`` (and every ``failed.json`` a failed sweep job leaves) under the directories and writes,
into ``out`` (default ``<dir>/report``):

- ``report.md``: the comparison (mean +- std over seeds of each task's main test metric per
  fusion x dataset/task, best per column in bold, † where a paired t-test over shared seeds
  against the baseline gives p < 0.05), the paired tests against the baseline (t-test over seeds;
  the difference with its paired bootstrap interval over test sentences), seed and failure counts, the
  evidence-group table (clean vs irrelevant image), the robustness table (``evaluation_*.json`` of
  ``fusionlab.evaluate``: images shuffled or removed, beside the clean score) and the efficiency
  table (MuSE Table 5), for joint runs their triples scored by position and as CasRel's strings, and, for
  MASE runs, the modality allocation z after each EM round;
- ``results.csv`` (every test metric, mean and std), ``comparison.tex`` (booktabs);
- ``bars.png``, ``groups.png``, when runs differ in ``data.sample_ratio`` ``low_resource.png``, and
  ``z_<fusion>_<dataset>_<task>.png`` (MASE's Figure 4, averaged over seeds).

With ``publish``, the report is also a section of that file (``docs/results.md``); it prints the
report's Markdown and where it lies.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import shlex
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import hydra
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from scipy import stats

from fusionlab import CONF
from fusionlab.bootstrap import paired_difference_interval, read_rows, seed_mean_interval, sentence_counts
from fusionlab.plots.allocation import draw_allocation
from fusionlab.plots.comparison import draw_bars, draw_groups, draw_low_resource, draw_robustness
from fusionlab.protocols import protocol_scores
from fusionlab.published import against_published, published_markdown
from fusionlab.results_doc import provenance, publish, section
from fusionlab.robustness import robustness_markdown, robustness_rows
from fusionlab.run.fingerprint import PATH_PARTS, flatten
from fusionlab.storage.records import CorruptRecordError, read_json

log = logging.getLogger(__name__)
BASELINE = "text_only"
SIGNIFICANCE = 0.05
# absolute: a console script calls main from the package, where a relative path would name a module
USAGE = ("usage: python -m fusionlab.report runs=<dir> [out=<dir>] [publish=docs/results.md title=\"...\"] "
         "[baseline=<fusion>]\n   or: python -m fusionlab.report runs=[<dir>,<dir>] out=<dir>   (keys: conf/report.yaml)")


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


# Config keys that never set runs apart: where files live, how often to checkpoint or log, the seed
# (what a row averages over) and the sample ratio (a column of its own).
IGNORED_KEYS = ("seed", "output_dir", "cache_root", "data_root", "resume", "logger", "init_from",
                "checkpoint_every_n_steps", "checkpoint_every_minutes", "data.num_workers", "data.pin_memory",
                "data.eval_batch_size", "data.cache_dir", "data.sample_ratio", "trainer.enable_progress_bar",
                "trainer.log_every_n_steps", "performance", "encoder.text.gradient_checkpointing", "eval_protocol",
                "fusion.declaration", "callbacks")


def _ignored(key: str) -> bool:
    if any(key == k or key.startswith(k + ".") for k in IGNORED_KEYS):
        return True
    return key.startswith("dataset.") and any(part in key for part in PATH_PARTS)


def _column(record: dict) -> tuple[str, str, float]:
    ratio = float(record.get("config", {}).get("data", {}).get("sample_ratio", 1.0))
    return record["dataset"], record["task"], ratio


def row_names(records: list[dict]) -> list[str]:
    """Each record's row: its fusion, plus every config key whose value differs between the runs of
    that fusion on the same column (so runs of two sweeps over a hyperparameter are never pooled), the
    release of the benchmark they read among them (``data.release``)."""
    flat = [{**{k: v for k, v in flatten(r.get("config", {})).items() if not _ignored(k)},
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
        raise SystemExit(f"no readable results.json, failed.json or run.json under {', '.join(map(str, roots))}")
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
                raise SystemExit(f"{path}: a second run of {row} on {_column_name(column)} with seed "
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
    """The baseline run set ``cell`` is compared with: the baseline's row with the same distinguishing
    keys, else its only row on the column."""
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


def paired_test(cell: Cell, baseline: Cell | None) -> dict | None:
    """``cell`` against the baseline over the seeds both have (None without one): the mean difference, the
    paired t-test's p (None below 2 pairs) and the difference's 95 % paired bootstrap interval over the
    test sentences (None without every paired run's test predictions)."""
    if baseline is None or cell.method == baseline.method:
        return None
    mine, theirs = cell.scores(), baseline.scores()
    seeds = sorted(mine.keys() & theirs.keys())
    if not seeds:
        return None
    a, b = [mine[s] for s in seeds], [theirs[s] for s in seeds]
    differences = [x - y for x, y in zip(a, b)]
    if len(seeds) < 2:
        p = None
    elif max(differences) == min(differences):  # no variance: the t statistic is 0 or infinite
        p = 1.0 if differences[0] == 0 else 0.0
    else:
        p = float(stats.ttest_rel(a, b).pvalue)
    predicted = all(s in cell.counts and s in baseline.counts for s in seeds)
    interval = paired_difference_interval([cell.counts[s] for s in seeds], [baseline.counts[s] for s in seeds],
                                          cell.monitor) if predicted else None
    return {"pairs": len(seeds), "delta": statistics.fmean(differences), "p": p, "interval": interval}


def _column_name(column) -> str:
    dataset, task, ratio = column
    return f"{dataset}/{task}" + (f"@{ratio:g}" if ratio != 1.0 else "")


def build_tables(cells: dict[tuple, Cell], baseline: str = BASELINE) -> dict:
    """Best row per column, the paired comparison of every row against ``baseline`` (``paired_test``) with its
    t-test p-value adjusted (Benjamini-Hochberg, over the rows compared with the baseline on the same column),
    and each cell's bootstrap interval over test sentences."""
    fusions = sorted({f for f, _ in cells}, key=lambda f: (f.split(" [")[0] != baseline, f))
    columns = sorted({c for _, c in cells})
    best = {}
    for column in columns:
        means = {f: mean_std(list(cells[f, column].scores().values()))[0] for f in fusions
                 if (f, column) in cells and cells[f, column].scores()}
        best[column] = max(means, key=means.get) if means else None
    tests = {(f, c): paired_test(cells[f, c], baseline_cell(cells, cells[f, c], baseline)) for f, c in cells}
    for column in columns:
        compared = [test for (f, c), test in tests.items() if c == column and test and test["p"] is not None]
        adjusted = stats.false_discovery_control([t["p"] for t in compared]) if compared else []
        for test, p in zip(compared, adjusted):
            test["p_adjusted"] = float(p)
    intervals = {key: seed_mean_interval(list(cell.counts.values()), cell.monitor) for key, cell in cells.items()}
    return {"fusions": fusions, "columns": columns, "best": best, "tests": tests, "baseline": baseline,
            "intervals": intervals}


def _cell_text(cells, tables, fusion, column, bold=("**", "**"), mark="†") -> str:
    cell = cells.get((fusion, column))
    if cell is None or not cell.scores():
        return "failed" if cell is not None and cell.failed else "-"
    text = spread_text(list(cell.scores().values()))
    test = tables["tests"].get((fusion, column))
    if test and test["p"] is not None and test["p_adjusted"] < SIGNIFICANCE:
        text += mark
    text += "".join(f" ({flag})" for flag in absent_modalities(cell))
    return f"{bold[0]}{text}{bold[1]}" if tables["best"][column] == fusion else text


def absent_modalities(cell: Cell) -> list[str]:
    """What an image method's runs never saw: an effectively text-only result is never shown unmarked."""
    flags = {"no images": "no_images_found", "no crops": "no_crops_found"}
    return [text for text, key in flags.items() if any(r.get("data", {}).get(key) for r in cell.runs)]


def markdown(cells: dict[tuple, Cell], tables: dict) -> str:
    fusions, columns = tables["fusions"], tables["columns"]
    header = lambda names: ["| " + " | ".join(names) + " |", "|" + " --- |" * len(names)]  # noqa: E731
    lines = ["# Comparison", "",
             "Test scores (%, the task's main metric: F1, or accuracy for msa), mean ± std over seeds (one run: its score). "
             f"Best per column in bold; † = paired t-test against {tables['baseline']} over shared seeds, p < "
             f"{SIGNIFICANCE} after the Benjamini-Hochberg correction over the rows compared on the column; "
             "(no images) / (no crops): an image method whose runs found none, effectively text-only.",
             "", *header(["fusion", *map(_column_name, columns)])]
    lines += [f"| {f} | " + " | ".join(_cell_text(cells, tables, f, c) for c in columns) + " |" for f in fusions]
    lines += ["", "## Seeds and failed runs", "", *header(["fusion", *map(_column_name, columns)])]
    lines += [f"| {f} | " + " | ".join(_counts(cells[f, c]) if (f, c) in cells else "-" for c in columns) + " |"
              for f in fusions]
    compared = sorted((key for key, test in tables["tests"].items() if test), key=lambda k: (k[1], k[0]))
    if compared:
        lines += ["", f"## Paired tests against {tables['baseline']}", "",
                  "Over the seeds both have: the mean difference (points), the paired t-test over those seeds "
                  "(-: below 2 pairs) and the difference's 95 % paired bootstrap interval over test sentences "
                  "(the same sentences resampled for both; -: without test predictions).", "",
                  *header(["fusion", "dataset/task", "seeds paired", "mean difference", "p",
                           "p, Benjamini-Hochberg", "95 % interval over sentences"])]
    for f, c in compared:
        test = tables["tests"][f, c]
        p_values = f"{test['p']:.3g} | {test['p_adjusted']:.3g}" if test["p"] is not None else "- | -"
        low_high = test["interval"]
        interval = f"[{100 * low_high[0]:+.1f}, {100 * low_high[1]:+.1f}]" if low_high else "-"
        lines.append(f"| {f} | {_column_name(c)} | {test['pairs']} | {100 * test['delta']:+.1f} | "
                     f"{p_values} | {interval} |")
    intervals = {key: interval for key, interval in tables["intervals"].items() if interval}
    if intervals:
        lines += ["", "## 95 % bootstrap intervals over test sentences (the seeds' mean, sentences resampled)", "",
                  *header(["fusion", "dataset/task", "seeds' mean", "interval"])]
        for (f, c), (low, high) in sorted(intervals.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            mean = mean_std(list(cells[f, c].scores().values()))[0]
            lines.append(f"| {f} | {_column_name(c)} | {100 * mean:.1f} | [{100 * low:.1f}, {100 * high:.1f}] |")
    lines += release_table(cells)
    lines += other_test_table(cells)
    lines += protocol_table(cells)
    lines += triple_table(cells)
    lines += robustness_markdown(robustness_rows(cells), _column_name)
    groups = sorted({g for cell in cells.values() for r in cell.runs for g in r["metrics"].get("test_groups", {})})
    if groups:
        lines += ["", "## Evidence groups (test, main metric %)", "", *header(["fusion", "dataset/task", *groups])]
        for (f, c), cell in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            values = [cell.group_scores(g) for g in groups]
            lines.append(f"| {f} | {_column_name(c)} | " + " | ".join(
                spread_text(v) if v else "-" for v in values) + " |")
    perturbations = sorted({p for cell in cells.values() for p in cell.perturbed})
    if perturbations:
        lines += ["", "## Robustness: the same checkpoints tested with other images (main metric %)", "",
                  *header(["fusion", "dataset/task", "clean", *perturbations])]
        for (f, c), cell in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            if cell.perturbed:
                values = [list(cell.scores().values())] + [
                    [t["metrics"]["test"][cell.monitor] for t in cell.perturbed.get(p, [])] for p in perturbations]
                lines.append(f"| {f} | {_column_name(c)} | " + " | ".join(
                    spread_text(v) if v else "-" for v in values) + " |")
    allocations = {key: allocation_means(cell) for key, cell in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0]))}
    if any(allocations.values()):
        lines += ["", "## Modality allocation z after each EM round (MASE, mean over seeds)", "",
                  *header(["fusion", "dataset/task", "modality", "z by round (round 0: uniform start)"])]
        for (f, c), trajectory in allocations.items():
            for modality, values in (trajectory or {}).items():
                lines.append(f"| {f} | {_column_name(c)} | {modality} | " + " → ".join(f"{v:.2f}" for v in values) + " |")
    lines += ["", "## Efficiency (means over runs)", "",
              *header(["fusion", "dataset/task", "params (M)", "trainable (M)", "train s/epoch", "eval s",
                       "train samples/s", "peak memory (MB)"])]
    for (f, c), cell in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if cell.runs:
            lines.append(f"| {f} | {_column_name(c)} | " + " | ".join(_efficiency(cell)) + " |")
    return "\n".join(lines) + "\n"


def release_table(cells: dict[tuple, Cell]) -> list[str]:
    """The release of the benchmark each cell's runs read (``fusionlab.data.releases``)."""
    rows = [f"| {f} | {_column_name(c)} | {', '.join(cell.releases)} |"
            for (f, c), cell in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])) if cell.runs]
    return ["", "## Data releases", "", "Which version of each benchmark the runs read, recognised by the split "
            "files' SHA-256 (unknown: files of no known release; results.json holds their hashes).", "",
            "| fusion | dataset/task | release |", "| --- | --- | --- |", *rows] if rows else []


def other_test_table(cells: dict[tuple, Cell]) -> list[str]:
    """The same checkpoints scored on another release's test file (``fusionlab.evaluate test_file=``): the
    label-version audit, as each run's own test score beside it and their difference over the same seeds."""
    rows = []
    for (f, c), cell in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        own = cell.scores()
        for release, tested in sorted(cell.other_tests.items()):
            other = {t["seed"]: t["metrics"]["test"][cell.monitor] for t in tested}
            seeds = sorted(set(own) & set(other))
            if not seeds:
                continue
            mine, theirs = [own[s] for s in seeds], [other[s] for s in seeds]
            difference = [b - a for a, b in zip(mine, theirs)]
            rows.append(f"| {f} | {_column_name(c)} | {len(seeds)} | {', '.join(cell.releases)} | {spread_text(mine)} "
                        f"| {release} | {spread_text(theirs)} | {spread_text(difference)} |")
    if not rows:
        return []
    return ["", "## The same checkpoints on another release's test file", "",
            "Test main metric (%), mean ± std over the seeds scored on both; difference: the other file's score "
            "minus the run's own, per seed.", "",
            "| fusion | dataset/task | seeds | release trained and tested on | score | other test file's release | "
            "score | difference |", "|" + " --- |" * 8, *rows]


def protocol_table(cells: dict[tuple, Cell]) -> list[str]:
    """Each cell under every evaluation protocol its runs allow (``fusionlab.protocols``), mean over seeds,
    with the difference from the clean protocol. The clean column is what every other table reports."""
    names = sorted({name for cell in cells.values() for p in cell.protocols for name in p} - {"clean"})
    if not names:
        return []
    lines = ["", "## Evaluation protocols (test, %; in brackets: the difference from clean)", "",
             "| fusion | dataset/task | clean | " + " | ".join(names) + " |", "|" + " --- |" * (len(names) + 3)]
    for (f, c), cell in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if not cell.protocols:
            continue
        clean = statistics.fmean(p["clean"] for p in cell.protocols)
        texts = []
        for name in names:
            runs = [p for p in cell.protocols if name in p]  # the difference over the same runs
            texts.append(f"{100 * statistics.fmean(p[name] for p in runs):.2f} "
                         f"({100 * statistics.fmean(p[name] - p['clean'] for p in runs):+.2f})" if runs else "-")
        lines.append(f"| {f} | {_column_name(c)} | {100 * clean:.2f} | " + " | ".join(texts) + " |")
    return lines


def triple_table(cells: dict[tuple, Cell]) -> list[str]:
    """Joint cells' test triples scored by word position (the main metric) and as CasRel's metric compares
    strings: precision, recall and F1 each (mean ± std over seeds), with the gold test triples the tagger
    cannot represent (``data.splits.test.triples_unrepresentable``: misses under both)."""
    joint = [(key, cell) for key, cell in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0]))
             if key[1][1] == "joint" and cell.scores("string_f1")]
    if not joint:
        return []
    metrics = [f"{way}_{score}" for way in ("exact", "string") for score in ("precision", "recall", "f1")]
    lines = ["", "## Joint extraction: triples by position and as strings (test, %)", "",
             "Position: both entities' word spans and the relation (the main metric). Strings: CasRel's metric "
             "(Wei et al., ACL 2020), which PMEI follows: per sentence, the set of (subject text, relation, object "
             "text) against the triples the data file lists.", "",
             "| fusion | dataset/task | position P | position R | position F1 | string P | string R | string F1 | "
             "gold triples the tagger cannot represent |", "|" + " --- |" * 9]
    for (f, c), cell in joint:
        lost = cell.runs[0].get("data", {}).get("splits", {}).get("test", {}).get("triples_unrepresentable", "-")
        lines.append(f"| {f} | {_column_name(c)} | "
                     + " | ".join(spread_text(list(cell.scores(m).values())) for m in metrics) + f" | {lost} |")
    return lines


def _counts(cell: Cell) -> str:
    text = f"{len(cell.runs)} ok, {cell.failed} failed"
    text += f", {cell.unfinished} unfinished (killed or still training)" if cell.unfinished else ""
    return text + (f", {cell.not_started} not started (the sweep was stopped)" if cell.not_started else "")


def allocation_means(cell: Cell) -> dict[str, list[float]] | None:
    """MASE's z trajectory per modality, averaged over the runs that ran every round."""
    trajectories = [r["method"]["z_trajectory"] for r in cell.runs if r.get("method", {}).get("z_trajectory")]
    if not trajectories or len(trajectories[0]) < 2:
        return None
    rounds = min(map(len, trajectories))
    modalities = cell.runs[0]["method"]["modalities"]
    return {m: [statistics.fmean(t[r][i] for t in trajectories) for r in range(rounds)] for i, m in enumerate(modalities)}


def _efficiency(cell: Cell) -> list[str]:
    runs = cell.runs
    mean = lambda values: statistics.fmean(v for v in values if v is not None)  # noqa: E731
    return [f"{runs[0]['params']['total'] / 1e6:.1f}", f"{runs[0]['params']['trainable'] / 1e6:.1f}",
            f"{mean(statistics.fmean(r['timing']['train_seconds_per_epoch']) for r in runs):.1f}",
            f"{mean(r['timing']['eval_seconds'] for r in runs):.1f}",
            f"{mean(r['timing']['train_samples_per_second'] for r in runs):.1f}",
            f"{mean(r['peak_memory_mb'] for r in runs):.0f}"]


def latex(cells: dict[tuple, Cell], tables: dict) -> str:
    columns = tables["columns"]
    lines = [r"\begin{tabular}{l" + "c" * len(columns) + "}", r"\toprule",
             "Fusion & " + " & ".join(_column_name(c).replace("_", r"\_") for c in columns) + r" \\", r"\midrule"]
    for f in tables["fusions"]:
        texts = [_cell_text(cells, tables, f, c, bold=(r"\textbf{", "}"), mark="$^\\dagger$").replace("±", r"$\pm$")
                 for c in columns]
        lines.append(f.replace("_", r"\_") + " & " + " & ".join(texts) + r" \\")
    return "\n".join(lines + [r"\bottomrule", r"\end{tabular}"]) + "\n"


def write_csv(cells: dict[tuple, Cell], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["fusion", "dataset", "task", "sample_ratio", "metric", "mean", "std", "seeds", "failed"])
        for (fusion, (dataset, task, ratio)), cell in sorted(cells.items()):
            metrics = sorted({k for r in cell.runs for k in r["metrics"]["test"]})
            for metric in metrics or [cell.monitor]:
                values = list(cell.scores(metric).values())
                mean, std = mean_std(values) if values else (float("nan"), float("nan"))
                writer.writerow([fusion, dataset, task, ratio, metric, mean, std, len(values), cell.failed])


def _hydra_value(value: str) -> str:
    """``value`` as Hydra's override grammar reads it back: bare where it can be, else quoted."""
    try:
        if OverridesParser.create().parse_override(f"key={value}").value() == value:
            return value
    except HydraException:
        pass
    return '"' + re.sub(r'(\\*)("|$)', lambda m: m.group(1) * 2 + ("\\" + m.group(2) if m.group(2) else ""),
                        value) + '"'


def report_command(roots: list[Path], out: str | Path | None, publish_to: str | Path, title: str | None,
            baseline: str) -> str:
    """The report command with these keys, as one shell line (what a published section says wrote it)."""
    runs = _hydra_value(str(roots[0])) if len(roots) == 1 else f"[{','.join(_hydra_value(str(r)) for r in roots)}]"
    keys = {"runs": runs, "out": out and _hydra_value(str(out)), "publish": _hydra_value(str(publish_to)),
            "title": title and _hydra_value(title), "baseline": baseline != BASELINE and _hydra_value(baseline)}
    return " ".join(["python -m fusionlab.report", *(shlex.quote(f"{k}={v}") for k, v in keys.items() if v)])


def report(root: str | Path | list[str | Path], out: str | Path | None = None,
           publish_to: str | Path | None = None, title: str | None = None, baseline: str = BASELINE) -> Path:
    """Write the report of the runs under ``root`` (a folder or a list of folders) into ``out`` (default
    ``<root>/report``, the first folder's); with ``publish_to``, also as the section ``title`` of that file
    (``docs/results.md``), with the runs' commit, device and commands."""
    roots = [Path(r) for r in root] if isinstance(root, list) else [Path(root)]
    written_by = report_command(roots, out, publish_to, title, baseline) if publish_to else None
    out = Path(out) if out else roots[0] / "report"
    out.mkdir(parents=True, exist_ok=True)
    cells = collect(roots)
    tables = build_tables(cells, baseline)
    text = markdown(cells, tables) + "\n".join(published_markdown(against_published(cells))) + "\n"
    (out / "report.md").write_text(text)
    if publish_to:
        title = title or " + ".join(r.name for r in roots)
        publish(publish_to, title, section(title, text, provenance(cells), written_by))
    (out / "comparison.tex").write_text(latex(cells, tables))
    write_csv(cells, out / "results.csv")
    draw_bars(cells, out / "bars.png")
    draw_groups(cells, out / "groups.png")
    if len({c[2] for _, c in cells}) > 1:
        draw_low_resource(cells, out / "low_resource.png")
    for kind, rows in robustness_rows(cells).items():
        draw_robustness(rows, kind, out / f"robustness_{kind}.png")
    for (fusion, column), cell in cells.items():
        trajectory = allocation_means(cell)
        if trajectory:
            name = "_".join([fusion, *map(str, column[:2])])
            draw_allocation(torch.tensor(list(trajectory.values())).T, list(trajectory), out / f"z_{name}.png")
    return out


@hydra.main(version_base="1.3", config_path=CONF, config_name="report")
def main(cfg: DictConfig) -> None:
    """Write the report of ``cfg.runs``; print its Markdown and where it lies."""
    if OmegaConf.is_missing(cfg, "runs"):
        raise SystemExit(f"fusionlab.report: missing runs=<multirun dir> (or runs=[<dir>,<dir>])\n{USAGE}")
    runs = OmegaConf.to_container(cfg.runs) if OmegaConf.is_list(cfg.runs) else [cfg.runs]
    if not runs:
        raise SystemExit(f"fusionlab.report: runs=[] names no directory\n{USAGE}")
    if len(runs) > 1 and cfg.out is None:
        raise SystemExit(f"fusionlab.report: missing out=<dir>: several runs directories need one place to "
                         f"write the report\n{USAGE}")
    out = report([str(r) for r in runs], cfg.out, cfg.publish, cfg.title and str(cfg.title), str(cfg.baseline))
    print((out / "report.md").read_text())
    print(f"report: {out}")


if __name__ == "__main__":
    main()
