"""The report's tables, one function each (Markdown lines), joined by ``markdown``; the comparison also as
LaTeX (booktabs) and every metric as CSV."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

from fusionlab.analysis.cells import Cell, absent_modalities, allocation_means, column_name, mean_std, spread_text
from fusionlab.analysis.comparison import SIGNIFICANCE
from fusionlab.analysis.robustness import robustness_markdown, robustness_rows


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
             f"Best per column in bold; † = paired t-test against {tables['baseline']} over shared seeds, p < "
             f"{SIGNIFICANCE} after the Benjamini-Hochberg correction over the rows compared on the column; "
             "(no images) / (no crops): an image method whose runs found none, effectively text-only.",
             "", *_header(["fusion", *map(column_name, columns)])]
    return lines + [f"| {f} | " + " | ".join(_cell_text(cells, tables, f, c) for c in columns) + " |" for f in fusions]


def seeds_table(cells: dict[tuple, Cell], tables: dict) -> list[str]:
    """How many runs each cell holds: finished, failed, unfinished, not started."""
    fusions, columns = tables["fusions"], tables["columns"]
    lines = ["", "## Seeds and failed runs", "", *_header(["fusion", *map(column_name, columns)])]
    return lines + [f"| {f} | " + " | ".join(_counts(cells[f, c]) if (f, c) in cells else "-" for c in columns) + " |"
                    for f in fusions]


def paired_tests_table(tables: dict) -> list[str]:
    """Every row against the baseline over their shared seeds (``fusionlab.analysis.comparison``)."""
    compared = sorted((key for key, test in tables["tests"].items() if test), key=lambda k: (k[1], k[0]))
    if not compared:
        return []
    lines = ["", f"## Paired tests against {tables['baseline']}", "",
             "Over the seeds both have: the mean difference (points), the paired t-test over those seeds "
             "(-: below 2 pairs) and the difference's 95 % paired bootstrap interval over test sentences "
             "(the same sentences resampled for both; -: without test predictions).", "",
             *_header(["fusion", "dataset/task", "seeds paired", "mean difference", "p",
                       "p, Benjamini-Hochberg", "95 % interval over sentences"])]
    for f, c in compared:
        test = tables["tests"][f, c]
        p_values = f"{test['p']:.3g} | {test['p_adjusted']:.3g}" if test["p"] is not None else "- | -"
        low_high = test["interval"]
        interval = f"[{100 * low_high[0]:+.1f}, {100 * low_high[1]:+.1f}]" if low_high else "-"
        lines.append(f"| {f} | {column_name(c)} | {test['pairs']} | {100 * test['delta']:+.1f} | "
                     f"{p_values} | {interval} |")
    return lines


def intervals_table(cells: dict[tuple, Cell], tables: dict) -> list[str]:
    """Each cell's seeds' mean with its bootstrap interval over test sentences."""
    intervals = {key: interval for key, interval in tables["intervals"].items() if interval}
    if not intervals:
        return []
    lines = ["", "## 95 % bootstrap intervals over test sentences (the seeds' mean, sentences resampled)", "",
             *_header(["fusion", "dataset/task", "seeds' mean", "interval"])]
    for (f, c), (low, high) in sorted(intervals.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        mean = mean_std(list(cells[f, c].scores().values()))[0]
        lines.append(f"| {f} | {column_name(c)} | {100 * mean:.1f} | [{100 * low:.1f}, {100 * high:.1f}] |")
    return lines


def groups_table(cells: dict[tuple, Cell]) -> list[str]:
    """The main metric on each evidence group of the test split (e.g. clean vs irrelevant image)."""
    groups = sorted({g for cell in cells.values() for r in cell.runs for g in r["metrics"].get("test_groups", {})})
    if not groups:
        return []
    lines = ["", "## Evidence groups (test, main metric %)", "", *_header(["fusion", "dataset/task", *groups])]
    for (f, c), cell in _by_column(cells):
        values = [cell.group_scores(g) for g in groups]
        lines.append(f"| {f} | {column_name(c)} | " + " | ".join(spread_text(v) if v else "-" for v in values) + " |")
    return lines


def perturbed_table(cells: dict[tuple, Cell]) -> list[str]:
    """The same checkpoints tested with their images shuffled or removed (``fusionlab.evaluate``)."""
    perturbations = sorted({p for cell in cells.values() for p in cell.perturbed})
    if not perturbations:
        return []
    lines = ["", "## Robustness: the same checkpoints tested with other images (main metric %)", "",
             *_header(["fusion", "dataset/task", "clean", *perturbations])]
    for (f, c), cell in _by_column(cells):
        if cell.perturbed:
            values = [list(cell.scores().values())] + [
                [t["metrics"]["test"][cell.monitor] for t in cell.perturbed.get(p, [])] for p in perturbations]
            lines.append(f"| {f} | {column_name(c)} | " + " | ".join(spread_text(v) if v else "-" for v in values) + " |")
    return lines


def allocation_table(cells: dict[tuple, Cell]) -> list[str]:
    """MASE's modality allocation z after each EM round, mean over seeds."""
    allocations = {key: allocation_means(cell) for key, cell in _by_column(cells)}
    if not any(allocations.values()):
        return []
    lines = ["", "## Modality allocation z after each EM round (MASE, mean over seeds)", "",
             *_header(["fusion", "dataset/task", "modality", "z by round (round 0: uniform start)"])]
    for (f, c), trajectory in allocations.items():
        for modality, values in (trajectory or {}).items():
            lines.append(f"| {f} | {column_name(c)} | {modality} | " + " → ".join(f"{v:.2f}" for v in values) + " |")
    return lines


def efficiency_table(cells: dict[tuple, Cell]) -> list[str]:
    """Parameters, training and evaluation time, throughput and peak memory (MuSE Table 5's columns)."""
    lines = ["", "## Efficiency (means over runs)", "",
             *_header(["fusion", "dataset/task", "params (M)", "trainable (M)", "train s/epoch", "eval s",
                       "train samples/s", "peak memory (MB)"])]
    return lines + [f"| {f} | {column_name(c)} | " + " | ".join(_efficiency(cell)) + " |"
                    for (f, c), cell in _by_column(cells) if cell.runs]


def release_table(cells: dict[tuple, Cell]) -> list[str]:
    """The release of the benchmark each cell's runs read (``fusionlab.data.releases``)."""
    rows = [f"| {f} | {column_name(c)} | {', '.join(cell.releases)} |"
            for (f, c), cell in _by_column(cells) if cell.runs]
    return ["", "## Data releases", "", "Which version of each benchmark the runs read, recognised by the split "
            "files' SHA-256 (unknown: files of no known release; results.json holds their hashes).", "",
            "| fusion | dataset/task | release |", "| --- | --- | --- |", *rows] if rows else []


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
            rows.append(f"| {f} | {column_name(c)} | {len(seeds)} | {', '.join(cell.releases)} | {spread_text(mine)} "
                        f"| {release} | {spread_text(theirs)} | {spread_text(difference)} |")
    if not rows:
        return []
    return ["", "## The same checkpoints on another release's test file", "",
            "Test main metric (%), mean ± std over the seeds scored on both; difference: the other file's score "
            "minus the run's own, per seed.", "",
            "| fusion | dataset/task | seeds | release trained and tested on | score | other test file's release | "
            "score | difference |", "|" + " --- |" * 8, *rows]


def protocol_table(cells: dict[tuple, Cell]) -> list[str]:
    """Each cell under every evaluation protocol its runs allow (``fusionlab.analysis.protocols``), mean over seeds,
    with the difference from the clean protocol. The clean column is what every other table reports."""
    names = sorted({name for cell in cells.values() for p in cell.protocols for name in p} - {"clean"})
    if not names:
        return []
    lines = ["", "## Evaluation protocols (test, %; in brackets: the difference from clean)", "",
             "| fusion | dataset/task | clean | " + " | ".join(names) + " |", "|" + " --- |" * (len(names) + 3)]
    for (f, c), cell in _by_column(cells):
        if not cell.protocols:
            continue
        clean = statistics.fmean(p["clean"] for p in cell.protocols)
        texts = []
        for name in names:
            runs = [p for p in cell.protocols if name in p]  # the difference over the same runs
            texts.append(f"{100 * statistics.fmean(p[name] for p in runs):.2f} "
                         f"({100 * statistics.fmean(p[name] - p['clean'] for p in runs):+.2f})" if runs else "-")
        lines.append(f"| {f} | {column_name(c)} | {100 * clean:.2f} | " + " | ".join(texts) + " |")
    return lines


def triple_table(cells: dict[tuple, Cell]) -> list[str]:
    """Joint cells' test triples scored by word position (the main metric) and as CasRel's metric compares
    strings: precision, recall and F1 each (mean ± std over seeds), with the gold test triples the tagger
    cannot represent (``data.splits.test.triples_unrepresentable``: misses under both)."""
    joint = [(key, cell) for key, cell in _by_column(cells)
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
        lines.append(f"| {f} | {column_name(c)} | "
                     + " | ".join(spread_text(list(cell.scores(m).values())) for m in metrics) + f" | {lost} |")
    return lines


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
    columns = tables["columns"]
    lines = [r"\begin{tabular}{l" + "c" * len(columns) + "}", r"\toprule",
             "Fusion & " + " & ".join(column_name(c).replace("_", r"\_") for c in columns) + r" \\", r"\midrule"]
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
