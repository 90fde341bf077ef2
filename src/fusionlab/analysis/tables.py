"""The report's tables, one function each (Markdown lines, rendered by tabulate), joined by ``markdown``; the
comparison also as LaTeX (booktabs, by pandas) and every metric as CSV (pandas)."""

from __future__ import annotations

import statistics
from pathlib import Path

import pandas as pd
from tabulate import DataRow, TableFormat, tabulate

from fusionlab.analysis.baseline import baseline_name
from fusionlab.analysis.cells import Cell, absent_modalities, allocation_means, column_name, mean_std, spread_text
from fusionlab.analysis.comparison import SIGNIFICANCE
from fusionlab.analysis.robustness import paired_perturbations, robustness_markdown, robustness_rows

# GitHub Markdown as the report has always written it (docs/results.md keeps its sections byte for byte): one
# space around each cell, no padding to a column's width, "| --- |" under the header
MARKDOWN = TableFormat(lineabove=None, linebelowheader=lambda widths, aligns: "|" + " --- |" * len(widths),
                       linebetweenrows=None, linebelow=None, headerrow=DataRow("|", "|", "|"),
                       datarow=DataRow("|", "|", "|"), padding=1, with_header_hide=None)


def markdown_table(header: list[str], rows: list[list]) -> list[str]:
    """A Markdown table's lines; cells are written as given (no number is reformatted)."""
    return tabulate(rows, headers=header, tablefmt=MARKDOWN, disable_numparse=True, stralign=None,
                    numalign=None).splitlines()


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


def _header(names: list[str]) -> list[str]:
    return ["| " + " | ".join(names) + " |", "|" + " --- |" * len(names)]


def _by_column(cells: dict[tuple, Cell]) -> list[tuple[tuple, Cell]]:
    """The cells ordered by column, then row."""
    return sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0]))


def markdown(cells: dict[tuple, Cell], tables: dict) -> str:
    """The report: every table that has something to show, in reading order."""
    lines = [*comparison_table(cells, tables), *seeds_table(cells, tables), *paired_tests_table(tables),
             *intervals_table(cells, tables), *release_table(cells), *other_test_table(cells),
             *protocol_table(cells), *triple_table(cells), *robustness_markdown(robustness_rows(cells), column_name),
             *groups_table(cells), *perturbed_table(cells), *allocation_table(cells), *efficiency_table(cells)]
    return "\n".join(lines) + "\n"


def comparison_table(cells: dict[tuple, Cell], tables: dict) -> list[str]:
    """Each row's test score per column: mean ± std over seeds, the best in bold, † where significant."""
    fusions, columns = tables["fusions"], tables["columns"]
    lines = ["# Comparison", "",
             "Test scores (%, the task's main metric: F1, or accuracy for msa), mean ± std over seeds (one run: its score). "
             f"Best per column in bold; † = paired t-test against {baseline_name(tables['baseline'])} over shared seeds, p < "
             f"{SIGNIFICANCE} after the Benjamini-Hochberg correction over the rows compared on the column; "
             "(no images) / (no crops): an image method whose runs found none, effectively text-only.", ""]
    rows = [[f, *(_cell_text(cells, tables, f, c) for c in columns)] for f in fusions]
    return lines + markdown_table(["fusion", *map(column_name, columns)], rows)


def seeds_table(cells: dict[tuple, Cell], tables: dict) -> list[str]:
    """How many runs each cell holds: finished, failed, unfinished, not started."""
    fusions, columns = tables["fusions"], tables["columns"]
    rows = [[f, *(_counts(cells[f, c]) if (f, c) in cells else "-" for c in columns)] for f in fusions]
    return ["", "## Seeds and failed runs", "", *markdown_table(["fusion", *map(column_name, columns)], rows)]


def paired_tests_table(tables: dict) -> list[str]:
    """Every row against the baseline over their shared seeds (``fusionlab.analysis.comparison``)."""
    compared = sorted((key for key, test in tables["tests"].items() if test), key=lambda k: (k[1], k[0]))
    if not compared:
        return []
    rows = []
    for f, c in compared:
        test = tables["tests"][f, c]
        p_values = [f"{test['p']:.3g}", f"{test['p_adjusted']:.3g}"] if test["p"] is not None else ["-", "-"]
        low_high = test["interval"]
        interval = f"[{100 * low_high[0]:+.1f}, {100 * low_high[1]:+.1f}]" if low_high else "-"
        rows.append([f, column_name(c), test["pairs"], f"{100 * test['delta']:+.1f}", *p_values, interval])
    return ["", f"## Paired tests against {baseline_name(tables['baseline'])}", "",
            "Over the seeds both have: the mean difference (points), the paired t-test over those seeds "
            "(-: below 2 pairs) and the difference's 95 % paired bootstrap interval over test sentences "
            "(the same sentences resampled for both; -: without test predictions).", "",
            *markdown_table(["fusion", "dataset/task", "seeds paired", "mean difference", "p", "p, Benjamini-Hochberg",
                             "95 % interval over sentences"], rows)]


def intervals_table(cells: dict[tuple, Cell], tables: dict) -> list[str]:
    """Each cell's seeds' mean with its bootstrap interval over test sentences."""
    intervals = {key: interval for key, interval in tables["intervals"].items() if interval}
    if not intervals:
        return []
    rows = [[f, column_name(c), f"{100 * mean_std(list(cells[f, c].scores().values()))[0]:.1f}",
             f"[{100 * low:.1f}, {100 * high:.1f}]"]
            for (f, c), (low, high) in sorted(intervals.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    return ["", "## 95 % bootstrap intervals over test sentences (the seeds' mean, sentences resampled)", "",
            *markdown_table(["fusion", "dataset/task", "seeds' mean", "interval"], rows)]


def groups_table(cells: dict[tuple, Cell]) -> list[str]:
    """The main metric on each evidence group of the test split (e.g. clean vs irrelevant image)."""
    groups = sorted({g for cell in cells.values() for r in cell.runs for g in r["metrics"].get("test_groups", {})})
    if not groups:
        return []
    rows = [[f, column_name(c), *(spread_text(v) if v else "-" for v in map(cell.group_scores, groups))]
            for (f, c), cell in _by_column(cells)]
    return ["", "## Evidence groups (test, main metric %)", "",
            *markdown_table(["fusion", "dataset/task", *groups], rows)]


def perturbed_table(cells: dict[tuple, Cell]) -> list[str]:
    """The same checkpoints tested with their images shuffled or removed (``fusionlab.evaluate``), beside their
    clean score over the same seeds (``paired_perturbations``)."""
    rows = []
    for (f, c), cell in _by_column(cells):
        for how, pair in paired_perturbations(cell).items():
            difference = [b - a for a, b in zip(pair["clean"], pair["changed"])]
            rows.append([f, column_name(c), how, f"{pair['n']} of {pair['seeds']}",
                         *(spread_text(v) if v else "-" for v in (pair["clean"], pair["changed"], difference))])
    if not rows:
        return []
    return ["", "## Robustness: the same checkpoints tested with other images (main metric %)", "",
            "Mean ± std over the seeds scored both ways (seeds paired: n of the row's clean runs; a seed without "
            "the other images' score is left out of both); difference: with the other images minus clean, per seed.",
            "", *markdown_table(["fusion", "dataset/task", "images", "seeds paired", "clean", "with these images",
                                 "difference"], rows)]


def allocation_table(cells: dict[tuple, Cell]) -> list[str]:
    """MASE's modality allocation z after each EM round, mean over seeds."""
    allocations = {key: allocation_means(cell) for key, cell in _by_column(cells)}
    if not any(allocations.values()):
        return []
    rows = [[f, column_name(c), modality, " → ".join(f"{v:.2f}" for v in values)]
            for (f, c), trajectory in allocations.items() for modality, values in (trajectory or {}).items()]
    return ["", "## Modality allocation z after each EM round (MASE, mean over seeds)", "",
            *markdown_table(["fusion", "dataset/task", "modality", "z by round (round 0: uniform start)"], rows)]


def efficiency_table(cells: dict[tuple, Cell]) -> list[str]:
    """Parameters, training and evaluation time, throughput and peak memory (MuSE Table 5's columns)."""
    rows = [[f, column_name(c), *_efficiency(cell)] for (f, c), cell in _by_column(cells) if cell.runs]
    return ["", "## Efficiency (means over runs)", "",
            *markdown_table(["fusion", "dataset/task", "params (M)", "trainable (M)", "train s/epoch", "eval s",
                             "train samples/s", "peak memory (MB)"], rows)]


def release_table(cells: dict[tuple, Cell]) -> list[str]:
    """The release of the benchmark each cell's runs read (``fusionlab.data.releases``)."""
    rows = [[f, column_name(c), ", ".join(cell.releases)] for (f, c), cell in _by_column(cells) if cell.runs]
    return ["", "## Data releases", "", "Which version of each benchmark the runs read, recognised by the split "
            "files' SHA-256 (unknown: files of no known release; results.json holds their hashes).", "",
            *markdown_table(["fusion", "dataset/task", "release"], rows)] if rows else []


def other_test_table(cells: dict[tuple, Cell]) -> list[str]:
    """The same checkpoints scored on another release's test file (``fusionlab.evaluate test_file=``): the
    label-version audit, as each run's own test score beside it and their difference over the same seeds."""
    rows = []
    for (f, c), cell in _by_column(cells):
        own = cell.scores()
        for release, tested in sorted(cell.other_tests.items()):
            other = {t["seed"]: t["metrics"]["test"][cell.monitor] for t in tested}
            seeds = sorted(set(own) & set(other))
            if not seeds:
                continue
            mine, theirs = [own[s] for s in seeds], [other[s] for s in seeds]
            difference = [b - a for a, b in zip(mine, theirs)]
            rows.append([f, column_name(c), len(seeds), ", ".join(cell.releases), spread_text(mine), release,
                         spread_text(theirs), spread_text(difference)])
    if not rows:
        return []
    return ["", "## The same checkpoints on another release's test file", "",
            "Test main metric (%), mean ± std over the seeds scored on both; difference: the other file's score "
            "minus the run's own, per seed.", "",
            *markdown_table(["fusion", "dataset/task", "seeds", "release trained and tested on", "score",
                             "other test file's release", "score", "difference"], rows)]


def protocol_table(cells: dict[tuple, Cell]) -> list[str]:
    """Each cell under every evaluation protocol its runs allow (``fusionlab.analysis.protocols``), mean over seeds,
    with the difference from the clean protocol. The clean column is what every other table reports."""
    names = sorted({name for cell in cells.values() for p in cell.protocols for name in p} - {"clean"})
    if not names:
        return []
    rows = []
    for (f, c), cell in _by_column(cells):
        if not cell.protocols:
            continue
        clean = statistics.fmean(p["clean"] for p in cell.protocols)
        texts = []
        for name in names:
            runs = [p for p in cell.protocols if name in p]  # the difference over the same runs
            texts.append(f"{100 * statistics.fmean(p[name] for p in runs):.2f} "
                         f"({100 * statistics.fmean(p[name] - p['clean'] for p in runs):+.2f})" if runs else "-")
        rows.append([f, column_name(c), f"{100 * clean:.2f}", *texts])
    return ["", "## Evaluation protocols (test, %; in brackets: the difference from clean)", "",
            *markdown_table(["fusion", "dataset/task", "clean", *names], rows)]


def triple_table(cells: dict[tuple, Cell]) -> list[str]:
    """Joint cells' test triples scored by word position (the main metric) and as CasRel's metric compares
    strings: precision, recall and F1 each (mean ± std over seeds), with the gold test triples the tagger
    cannot represent (``data.splits.test.triples_unrepresentable``: misses under both)."""
    joint = [(key, cell) for key, cell in _by_column(cells)
             if key[1][1] == "joint" and cell.scores("string_f1")]
    if not joint:
        return []
    metrics = [f"{way}_{score}" for way in ("exact", "string") for score in ("precision", "recall", "f1")]
    rows = [[f, column_name(c), *(spread_text(list(cell.scores(m).values())) for m in metrics),
             cell.runs[0].get("data", {}).get("splits", {}).get("test", {}).get("triples_unrepresentable", "-")]
            for (f, c), cell in joint]
    return ["", "## Joint extraction: triples by position and as strings (test, %)", "",
            "Position: both entities' word spans and the relation (the main metric). Strings: CasRel's metric "
            "(Wei et al., ACL 2020), which PMEI follows: per sentence, the set of (subject text, relation, object "
            "text) against the triples the data file lists.", "",
            *markdown_table(["fusion", "dataset/task", "position P", "position R", "position F1", "string P",
                             "string R", "string F1", "gold triples the tagger cannot represent"], rows)]


def _counts(cell: Cell) -> str:
    text = f"{len(cell.runs)} ok, {cell.failed} failed"
    text += f", {cell.unfinished} unfinished (killed or still training)" if cell.unfinished else ""
    return text + (f", {cell.not_started} not started (the sweep was stopped)" if cell.not_started else "")


def _efficiency(cell: Cell) -> list[str]:
    runs = cell.runs
    mean = lambda values: statistics.fmean(v for v in values if v is not None)  # noqa: E731
    return [f"{runs[0]['params']['total'] / 1e6:.1f}", f"{runs[0]['params']['trainable'] / 1e6:.1f}",
            f"{mean(statistics.fmean(r['timing']['train_seconds_per_epoch']) for r in runs):.1f}",
            f"{mean(r['timing']['eval_seconds'] for r in runs):.1f}",
            f"{mean(r['timing']['train_samples_per_second'] for r in runs):.1f}",
            f"{mean(r['peak_memory_mb'] for r in runs):.0f}"]


def latex(cells: dict[tuple, Cell], tables: dict) -> str:
    """The comparison table as booktabs LaTeX (pandas' Styler; cells carry their own markup)."""
    columns = tables["columns"]
    rows = [[f.replace("_", r"\_"), *(_cell_text(cells, tables, f, c, bold=(r"\textbf{", "}"), mark="$^\\dagger$")
                                      .replace("±", r"$\pm$") for c in columns)] for f in tables["fusions"]]
    frame = pd.DataFrame(rows, columns=["Fusion", *(column_name(c).replace("_", r"\_") for c in columns)])
    return frame.style.hide(axis="index").to_latex(column_format="l" + "c" * len(columns), hrules=True)


def write_csv(cells: dict[tuple, Cell], path: Path) -> None:
    """Every test metric of every cell: mean and std over seeds, with the seed and failure counts."""
    rows = []
    for (fusion, (dataset, task, ratio)), cell in sorted(cells.items()):
        for metric in sorted({k for r in cell.runs for k in r["metrics"]["test"]}) or [cell.monitor]:
            values = list(cell.scores(metric).values())
            mean, std = mean_std(values) if values else (float("nan"), float("nan"))
            rows.append({"fusion": fusion, "dataset": dataset, "task": task, "sample_ratio": ratio, "metric": metric,
                         "mean": mean, "std": std, "seeds": len(values), "failed": cell.failed})
    pd.DataFrame(rows, columns=["fusion", "dataset", "task", "sample_ratio", "metric", "mean", "std", "seeds",
                                "failed"]).to_csv(path, index=False)
