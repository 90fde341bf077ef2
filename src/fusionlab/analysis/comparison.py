"""Each row against the baseline: paired tests over shared seeds (t-test, Benjamini-Hochberg across the
rows of a column) and bootstrap intervals over test sentences, and the best row per column."""

from __future__ import annotations

import logging
import statistics

from scipy import stats

from fusionlab.analysis.baseline import is_baseline
from fusionlab.analysis.bootstrap import paired_difference_interval, seed_mean_interval
from fusionlab.analysis.cells import Cell, baseline_cell, mean_std

log = logging.getLogger(__name__)
BASELINE = "text_only"
SIGNIFICANCE = 0.05


def paired_test(cell: Cell, baseline: Cell | None) -> dict | None:
    """``cell`` against the baseline over the seeds both have (None without one): the mean difference, the
    paired t-test's p (None below 2 pairs) and the difference's 95 % paired bootstrap interval over the
    test sentences (None without every paired run's test predictions)."""
    if baseline is None or baseline is cell:
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


def build_tables(cells: dict[tuple, Cell], baseline: str = BASELINE) -> dict:
    """Best row per column, the paired comparison of every row against ``baseline`` (``paired_test``) with its
    t-test p-value adjusted (Benjamini-Hochberg, over the rows compared with the baseline on the same column),
    and each cell's bootstrap interval over test sentences."""
    fusions = sorted({f for f, _ in cells}, key=lambda f: (not is_baseline(f, baseline), f))
    if fusions and not any(is_baseline(f, baseline) for f in fusions):
        log.warning("the baseline %s names no row (rows: %s): no paired tests", baseline, ", ".join(fusions))
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
