"""``python -m fusionlab.report <multirun dir> [--out DIR]``: comparison tables and plots.

Reads every ``results.json`` (and every ``failed.json`` a failed sweep job leaves) under the
directory and writes, into ``--out`` (default ``<dir>/report``):

- ``report.md``: the comparison (mean +- std over seeds of each task's main test metric per
  fusion x dataset/task, best per column in bold, † where a paired t-test over shared seeds
  against text_only gives p < 0.05), the significance table, seed and failure counts, the
  evidence-group table (clean vs irrelevant image), the robustness table (``evaluation_*.json`` of
  ``fusionlab.evaluate``: images shuffled or removed, beside the clean score) and the efficiency
  table (MuSE Table 5) and, for MASE runs, the modality allocation z after each EM round;
- ``results.csv`` (every test metric, mean and std), ``comparison.tex`` (booktabs);
- ``bars.png``, ``groups.png``, when runs differ in ``data.sample_ratio`` ``low_resource.png``, and
  ``z_<fusion>_<dataset>_<task>.png`` (MASE's Figure 4, averaged over seeds).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch
from scipy import stats

from fusionlab.plots.allocation import draw_allocation
from fusionlab.plots.comparison import draw_bars, draw_groups, draw_low_resource

BASELINE = "text_only"
SIGNIFICANCE = 0.05


@dataclass
class Cell:
    """All runs of one fusion on one (dataset, task, sample ratio)."""

    fusion: str
    column: tuple[str, str, float]  # dataset, task, sample ratio
    runs: list[dict] = field(default_factory=list)
    failed: int = 0
    perturbed: dict[str, list[dict]] = field(default_factory=dict)  # fusionlab.evaluate: shuffled / removed

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


def collect(root: Path) -> dict[tuple, Cell]:
    cells: dict[tuple, Cell] = {}

    def cell(record: dict) -> Cell:
        ratio = float(record.get("config", {}).get("data", {}).get("sample_ratio", 1.0))
        column = (record["dataset"], record["task"], ratio)
        return cells.setdefault((record["fusion"], column), Cell(record["fusion"], column))

    for path in sorted(root.rglob("results.json")):
        record = json.loads(path.read_text())
        cell(record).runs.append(record)
        for evaluation in sorted(path.parent.glob("evaluation_*.json")):
            tested = json.loads(evaluation.read_text())
            if tested["test_images"] != "clean":
                cell(record).perturbed.setdefault(tested["test_images"], []).append(tested)
    for path in sorted(root.rglob("failed.json")):
        cell(json.loads(path.read_text())).failed += 1
    if not cells:
        raise SystemExit(f"no results.json or failed.json under {root}")
    return cells


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def paired_test(cell: Cell, baseline: Cell | None) -> dict | None:
    """Paired t-test of ``cell`` against the baseline over the seeds both have (None below 2 pairs)."""
    if baseline is None or cell.fusion == baseline.fusion:
        return None
    mine, theirs = cell.scores(), baseline.scores()
    seeds = sorted(mine.keys() & theirs.keys())
    if len(seeds) < 2:
        return None
    a, b = [mine[s] for s in seeds], [theirs[s] for s in seeds]
    differences = [x - y for x, y in zip(a, b)]
    delta = statistics.fmean(differences)
    if max(differences) == min(differences):  # no variance: the t statistic is 0 or infinite
        return {"pairs": len(seeds), "delta": delta, "p": 1.0 if delta == 0 else 0.0}
    return {"pairs": len(seeds), "delta": delta, "p": float(stats.ttest_rel(a, b).pvalue)}


def _column_name(column) -> str:
    dataset, task, ratio = column
    return f"{dataset}/{task}" + (f"@{ratio:g}" if ratio != 1.0 else "")


def build_tables(cells: dict[tuple, Cell]) -> dict:
    fusions = sorted({f for f, _ in cells}, key=lambda f: (f != BASELINE, f))
    columns = sorted({c for _, c in cells})
    best = {}
    for column in columns:
        means = {f: mean_std(list(cells[f, column].scores().values()))[0] for f in fusions
                 if (f, column) in cells and cells[f, column].scores()}
        best[column] = max(means, key=means.get) if means else None
    tests = {(f, c): paired_test(cells[f, c], cells.get((BASELINE, c))) for f, c in cells}
    return {"fusions": fusions, "columns": columns, "best": best, "tests": tests}


def _cell_text(cells, tables, fusion, column, bold=("**", "**"), mark="†") -> str:
    cell = cells.get((fusion, column))
    if cell is None or not cell.scores():
        return "failed" if cell is not None and cell.failed else "-"
    mean, std = mean_std(list(cell.scores().values()))
    text = f"{100 * mean:.1f} ± {100 * std:.1f}"
    test = tables["tests"].get((fusion, column))
    if test and test["p"] < SIGNIFICANCE:
        text += mark
    return f"{bold[0]}{text}{bold[1]}" if tables["best"][column] == fusion else text


def markdown(cells: dict[tuple, Cell], tables: dict) -> str:
    fusions, columns = tables["fusions"], tables["columns"]
    header = lambda names: ["| " + " | ".join(names) + " |", "|" + " --- |" * len(names)]  # noqa: E731
    lines = ["# Comparison", "",
             "Test scores (%, the task's main metric: F1, or accuracy for msa), mean ± std over seeds. "
             f"Best per column in bold; † = paired t-test against {BASELINE} over shared seeds, p < {SIGNIFICANCE}.",
             "", *header(["fusion", *map(_column_name, columns)])]
    lines += [f"| {f} | " + " | ".join(_cell_text(cells, tables, f, c) for c in columns) + " |" for f in fusions]
    lines += ["", "## Seeds and failed runs", "", *header(["fusion", *map(_column_name, columns)])]
    lines += [f"| {f} | " + " | ".join(f"{len(cells[f, c].runs)} ok, {cells[f, c].failed} failed"
                                        if (f, c) in cells else "-" for c in columns) + " |" for f in fusions]
    lines += ["", f"## Paired t-test against {BASELINE}", "",
              *header(["fusion", "dataset/task", "seeds paired", "mean difference (points)", "p"])]
    for (f, c), test in sorted(tables["tests"].items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if test:
            lines.append(f"| {f} | {_column_name(c)} | {test['pairs']} | {100 * test['delta']:+.1f} | {test['p']:.3g} |")
    groups = sorted({g for cell in cells.values() for r in cell.runs for g in r["metrics"].get("test_groups", {})})
    if groups:
        lines += ["", "## Evidence groups (test, main metric %)", "", *header(["fusion", "dataset/task", *groups])]
        for (f, c), cell in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            values = [cell.group_scores(g) for g in groups]
            lines.append(f"| {f} | {_column_name(c)} | " + " | ".join(
                f"{100 * mean_std(v)[0]:.1f} ± {100 * mean_std(v)[1]:.1f}" if v else "-" for v in values) + " |")
    perturbations = sorted({p for cell in cells.values() for p in cell.perturbed})
    if perturbations:
        lines += ["", "## Robustness: the same checkpoints tested with other images (main metric %)", "",
                  *header(["fusion", "dataset/task", "clean", *perturbations])]
        for (f, c), cell in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            if cell.perturbed:
                values = [list(cell.scores().values())] + [
                    [t["metrics"]["test"][cell.monitor] for t in cell.perturbed.get(p, [])] for p in perturbations]
                lines.append(f"| {f} | {_column_name(c)} | " + " | ".join(
                    f"{100 * mean_std(v)[0]:.1f} ± {100 * mean_std(v)[1]:.1f}" if v else "-" for v in values) + " |")
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


def report(root: str | Path, out: str | Path | None = None) -> Path:
    root = Path(root)
    out = Path(out) if out else root / "report"
    out.mkdir(parents=True, exist_ok=True)
    cells = collect(root)
    tables = build_tables(cells)
    (out / "report.md").write_text(markdown(cells, tables))
    (out / "comparison.tex").write_text(latex(cells, tables))
    write_csv(cells, out / "results.csv")
    draw_bars(cells, out / "bars.png")
    draw_groups(cells, out / "groups.png")
    if len({c[2] for _, c in cells}) > 1:
        draw_low_resource(cells, out / "low_resource.png")
    for (fusion, column), cell in cells.items():
        trajectory = allocation_means(cell)
        if trajectory:
            name = "_".join([fusion, *map(str, column[:2])])
            draw_allocation(torch.tensor(list(trajectory.values())).T, list(trajectory), out / f"z_{name}.png")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="a multirun directory (or any folder holding run directories)")
    parser.add_argument("--out", help="where to write the report (default <root>/report)")
    args = parser.parse_args()
    out = report(args.root, args.out)
    print((out / "report.md").read_text())
    print(f"report: {out}")


if __name__ == "__main__":
    main()
