"""The report's comparison figures: each row's test score per dataset/task, clean vs irrelevant image, and the
score against the share of training data. Each seed is a point beside the seeds' mean and its 95 % t-interval,
the baseline first and in black; † marks what ``build_tables`` found significant against it.

Each function takes the report's cells ({(fusion, (dataset, task, ratio)): Cell}) and ``build_tables``' tables,
writes a PNG and returns its Figure, or raises ``NothingToDraw`` (and writes nothing).
"""

from __future__ import annotations

import statistics
from pathlib import Path

from matplotlib.figure import Figure

from fusionlab.analysis.baseline import baseline_name, is_baseline, is_setting
from fusionlab.analysis.comparison import SIGNIFICANCE
from fusionlab.analysis.plots.figure import (
    INTERVAL,
    SIGNIFICANT,
    NothingToDraw,
    baseline_line,
    caption,
    colours,
    legend_below,
    mark_significant,
    metric_label,
    panels,
    save,
    seeds_and_mean,
    state_y_range,
)

CLEAN, IRRELEVANT = "text_decides", "text_decides_irrelevant_image"


def significant(tables: dict, key: tuple) -> bool:
    """Whether ``build_tables`` found the row ``key`` (fusion, column) significant against the baseline."""
    test = tables["tests"].get(key)
    return bool(test and test["p"] is not None and test["p_adjusted"] < SIGNIFICANCE)


def _rows(cells: dict, tables: dict, column: tuple, has) -> list[str]:
    """The rows with something to show on ``column``, in the tables' order (the baseline first)."""
    return [f for f in tables["fusions"] if (f, column) in cells and has(cells[f, column])]


def _baseline_rows(tables: dict) -> str:
    """The rows drawn first and dashed: the baseline fusion's, or those with the baseline setting."""
    return f"the rows with {tables['baseline']}" if is_setting(tables["baseline"]) else tables["baseline"]


def _significance_note(tables: dict) -> str:
    return (f"{SIGNIFICANT} = p < {SIGNIFICANCE} against {baseline_name(tables['baseline'])} (paired t-test over shared seeds, "
            "Benjamini-Hochberg), as in the report's tables.")


def draw_scores(cells: dict, tables: dict, path: Path) -> Figure:
    """One panel per dataset/task (full data): each row's seeds and their mean with its interval, the
    baseline fusion's mean as a dashed line (none for a baseline setting: one such row per fusion)."""
    columns = [c for c in tables["columns"] if c[2] == 1.0 and _rows(cells, tables, c, lambda cell: cell.scores())]
    if not columns:
        raise NothingToDraw("no finished run on the full training data")
    figure, axes = panels(len(columns))
    for axis, column in zip(axes, columns):
        rows = _rows(cells, tables, column, lambda cell: cell.scores())
        colour = colours(rows, tables["baseline"])
        lows, highs = [], []
        for x, row in enumerate(rows):
            cell = cells[row, column]
            low, high = seeds_and_mean(axis, x, list(cell.scores().values()), colour[row])
            lows.append(low)
            highs.append(high)
            if significant(tables, (row, column)):
                mark_significant(axis, x, highs[-1])
            if is_baseline(row, tables["baseline"]) and not is_setting(tables["baseline"]):
                baseline_line(axis, statistics.fmean(cell.scores().values()), row)
        axis.set_xticks(range(len(rows)), rows, rotation=30, ha="right", fontsize=8)
        axis.set_xlim(-0.6, len(rows) - 0.4)
        axis.set_xlabel(f"fusion ({_baseline_rows(tables)} first)")
        seeds = sorted({len(cells[r, column].scores()) for r in rows})
        axis.set_title(f"{column[0]} / {column[1]} ({'/'.join(map(str, seeds))} seeds)", fontsize=9)
        state_y_range(axis, metric_label(cells[rows[0], column].monitor), lows, highs)
    mean_line = "" if is_setting(tables["baseline"]) else f" dashed = {tables['baseline']}'s mean."
    caption(figure, f"Test score per fusion: dots = seeds, ◆ = their mean with its {INTERVAL};{mean_line} "
            f"{_significance_note(tables)}", 40 * len(columns) + 40)
    return save(figure, path)


def draw_groups(cells: dict, tables: dict, path: Path) -> Figure:
    """Per dataset/task: each row's score where the text decides, with a relevant and with an irrelevant image
    (the synthetic benchmark's evidence groups)."""
    columns = [c for c in tables["columns"] if c[2] == 1.0
               and _rows(cells, tables, c, lambda cell: cell.group_scores(IRRELEVANT))]
    if not columns:
        raise NothingToDraw(f"no run has the evidence groups {CLEAN} / {IRRELEVANT} (the synthetic benchmark's; "
                            "real datasets have none)")
    figure, axes = panels(len(columns))
    for axis, column in zip(axes, columns):
        rows = _rows(cells, tables, column, lambda cell: cell.group_scores(IRRELEVANT))
        lows, highs = [], []
        for offset, (group, label, colour) in enumerate([(CLEAN, "relevant image", "#4c72b0"),
                                                         (IRRELEVANT, "irrelevant image", "#dd8452")]):
            for x, row in enumerate(rows):
                values = cells[row, column].group_scores(group)
                if values:
                    low, high = seeds_and_mean(axis, x + 0.3 * (offset - 0.5), values, colour, spread=0.05)
                    lows.append(low)
                    highs.append(high)
            baseline = [r for r in rows if is_baseline(r, tables["baseline"]) and not is_setting(tables["baseline"])]
            if baseline and cells[baseline[0], column].group_scores(group):
                axis.axhline(100 * statistics.fmean(cells[baseline[0], column].group_scores(group)), color=colour,
                             linestyle="--", linewidth=0.9, label=f"{baseline[0]}, {label}: mean")
            axis.scatter([], [], color=colour, label=label)  # the legend's entry for the group's points
        axis.set_xticks(range(len(rows)), rows, rotation=30, ha="right", fontsize=8)
        axis.set_xlim(-0.6, len(rows) - 0.4)
        axis.set_xlabel(f"fusion ({_baseline_rows(tables)} first)")
        axis.set_title(f"{column[0]} / {column[1]}: sentences where the text decides", fontsize=9)
        state_y_range(axis, metric_label(cells[rows[0], column].monitor), lows, highs)
    legend_below(figure)
    mean_lines = "" if is_setting(tables["baseline"]) else f" dashed = {tables['baseline']}'s mean per group."
    caption(figure, f"Relevant vs irrelevant image: dots = seeds, ◆ = their mean with its {INTERVAL};{mean_lines} "
            "No significance test on groups (the tables test the main score only).", 40 * len(columns) + 40)
    return save(figure, path)


def draw_low_resource(cells: dict, tables: dict, path: Path) -> Figure:
    """Per dataset/task trained on several shares of its training data: each row's score against the share
    (HVPNeT's Figure 3), seeds as points, the mean with its interval, the baseline dashed and black."""
    settings = sorted({c[:2] for _, c in cells if len({r for _, (d, t, r) in cells if (d, t) == c[:2]}) > 1})
    if not settings:
        raise NothingToDraw("no dataset/task was trained on more than one share of its training data")
    figure, axes = panels(len(settings), width=4.8)
    for axis, setting in zip(axes, settings):
        columns = sorted(c for c in tables["columns"] if c[:2] == setting)
        rows = [f for f in tables["fusions"] if any((f, c) in cells and cells[f, c].scores() for c in columns)]
        colour, lows, highs = colours(rows, tables["baseline"]), [], []
        ratios = [c[2] for c in columns]
        spread = 0.05 * (max(ratios) - min(ratios))
        for index, row in enumerate(rows):
            points = []
            for column in columns:
                if (row, column) in cells and cells[row, column].scores():
                    values = list(cells[row, column].scores().values())
                    x = column[2] + spread * (index - (len(rows) - 1) / 2)
                    low, high = seeds_and_mean(axis, x, values, colour[row], spread=spread / 4)
                    lows.append(low)
                    highs.append(high)
                    points.append((x, 100 * statistics.fmean(values)))
                    if significant(tables, (row, column)):
                        mark_significant(axis, x, highs[-1])
            axis.plot(*zip(*points), color=colour[row], label=row,
                      linestyle="--" if is_baseline(row, tables["baseline"]) else "-")
        axis.set_xticks(ratios, [f"{r:g}" for r in ratios])
        axis.set_xlabel("share of the training data (data.sample_ratio)")
        axis.set_title(f"{setting[0]} / {setting[1]}", fontsize=9)
        state_y_range(axis, metric_label(cells[rows[0], columns[-1]].monitor if (rows[0], columns[-1]) in cells
                                         else "f1"), lows, highs)
    legend_below(figure)
    caption(figure, f"Low resource: dots = seeds, ◆ = their mean with its {INTERVAL}, lines join the means; "
            f"{_baseline_rows(tables)} dashed. {_significance_note(tables)}", 45 * len(settings) + 40)
    return save(figure, path)


def draw_robustness(rows: list[dict], kind: str, tables: dict, path: Path) -> Figure:
    """Per dataset/task: the score against the corruption level (MultiBench), each seed's curve as points, the
    seeds' mean as a line with its interval as a band; the baseline dashed and black, first in the legend."""
    columns = sorted({r["column"] for r in rows})
    if not columns:
        raise NothingToDraw(f"no run was tested under {kind} at two levels or more")
    figure, axes = panels(len(columns), width=4.8)
    for axis, column in zip(axes, columns):
        ordered = sorted((r for r in rows if r["column"] == column),
                         key=lambda r: (not is_baseline(r["fusion"], tables["baseline"]), r["fusion"]))
        colour, lows, highs = colours([r["fusion"] for r in ordered], tables["baseline"]), [], []
        for index, row in enumerate(ordered):
            levels, seeds = row["levels"], list(row["seed_scores"].values())
            spread = 0.05 * (levels[-1] - levels[0]) * (index - (len(ordered) - 1) / 2)
            for level_index, level in enumerate(levels):
                at_level = [seed[level_index] for seed in seeds]
                low, high = seeds_and_mean(axis, level + spread, at_level, colour[row["fusion"]],
                                           spread=0.0125 * (levels[-1] - levels[0]))
                lows.append(low)
                highs.append(high)
            axis.plot([level + spread for level in levels], [100 * s for s in row["scores"]],
                      color=colour[row["fusion"]], label=f"{row['fusion']} ({len(seeds)} seed{'s' * (len(seeds) > 1)})",
                      linestyle="--" if is_baseline(row["fusion"], tables["baseline"]) else "-")
        axis.set_xticks(ordered[0]["levels"], [f"{level:g}" for level in ordered[0]["levels"]])
        axis.set_xlabel(f"{kind} level (0: clean)")
        axis.set_title(f"{column[0]} / {column[1]}", fontsize=9)
        state_y_range(axis, metric_label(ordered[0]["monitor"]), lows, highs)
    legend_below(figure)
    caption(figure, f"Robustness to {kind}: dots = seeds, ◆ = their mean with its {INTERVAL}, lines join the "
            f"means; {_baseline_rows(tables)} dashed. No significance test along the curve.", 45 * len(columns) + 40)
    return save(figure, path)
