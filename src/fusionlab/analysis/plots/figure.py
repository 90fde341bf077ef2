"""What every report figure shares: panels on a pyplot-free Figure, each seed's score as a point beside the
seeds' mean and its 95 % t-interval, the baseline's colour and line, the y-range stated in the axis label,
and ``NothingToDraw`` (a figure with nothing to show is not written; the report says why)."""

from __future__ import annotations

import statistics
import textwrap
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from fusionlab.analysis.baseline import is_baseline, is_setting, row_settings

INTERVAL = "95 % t-interval over seeds"
BASELINE_COLOUR = "black"
COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974")
SIGNIFICANT = "†"


class NothingToDraw(Exception):
    """Raised by a draw function that has nothing to show; its message says why."""


def percent(values) -> list[float]:
    return [100 * v for v in values]


def metric_label(monitor: str) -> str:
    """The y-axis label of a task's main metric, in percent."""
    return f"test {'F1' if monitor == 'f1' else monitor} (%)"


def t_interval(values: list[float]) -> tuple[float, float] | None:
    """The 95 % t-interval of the mean of ``values`` (None below 2 values: no spread to estimate)."""
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    if len(set(values)) == 1:
        return mean, mean
    low, high = stats.t.interval(0.95, len(values) - 1, loc=mean, scale=stats.sem(values))
    return float(low), float(high)


def colours(rows: list[str], baseline: str) -> dict[str, str]:
    """A colour per row (in ``rows``' order), black for the baseline fusion's rows; where the baseline is a
    setting, a colour per fusion (its rows told apart by their lines: the baseline's dashed)."""
    others = iter(COLOURS * (len(rows) // len(COLOURS) + 1))
    if is_setting(baseline):
        fusions = {}
        return {row: fusions.setdefault(row_settings(row)[0], next(others)) for row in rows}
    return {row: BASELINE_COLOUR if is_baseline(row, baseline) else next(others) for row in rows}


def panels(count: int, width: float = 4.2, height: float = 3.8) -> tuple[Figure, list]:
    figure = Figure(figsize=(max(width * count, 5.5), height), layout="constrained")
    return figure, list(figure.subplots(1, count, squeeze=False)[0])


def seeds_and_mean(axis, x: float, values: list[float], colour: str, spread: float = 0.08) -> tuple[float, float]:
    """The seeds' mean (in %) as a diamond at ``x`` with its t-interval, each seed's score as a point just left of
    it; the lowest and highest of the points and the interval (for the y-range)."""
    values = percent(values)
    offsets = np.linspace(-spread, spread, len(values)) if len(values) > 1 else [0.0]
    axis.scatter([x - 2.2 * spread + o for o in offsets], values, s=14, color=colour, alpha=0.45, linewidths=0, zorder=3)
    mean, interval = statistics.fmean(values), t_interval(values)
    low, high = interval or (mean, mean)
    axis.errorbar([x], [mean], yerr=[[mean - low], [high - mean]] if interval else None, fmt="D",
                  color=colour, markersize=5, capsize=3, zorder=4)
    return min(low, *values), max(high, *values)


def mark_significant(axis, x: float, top: float) -> None:
    axis.annotate(SIGNIFICANT, (x, top), xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
                  fontsize=11)


def baseline_line(axis, mean: float, name: str) -> None:
    """The baseline's mean (in %) across the panel, dashed."""
    axis.axhline(100 * mean, color=BASELINE_COLOUR, linestyle="--", linewidth=0.9, label=f"{name}: mean", zorder=1)


def state_y_range(axis, label: str, lows: list[float], highs: list[float]) -> None:
    """Fit the y-axis to ``lows``..``highs`` (in %, within 0..100, on whole points) and say its range in the label:
    a zoomed axis never passes for one from 0."""
    low, high = max(min(lows), 0.0), min(max(highs), 100.0)
    pad = max((high - low) * 0.1, 0.4)
    bottom, top = max(np.floor(low - pad), 0.0), min(np.ceil(high + 1.5 * pad), 100.0)  # room above for a †
    axis.set_ylim(bottom, top)
    axis.set_ylabel(f"{label}; axis {bottom:g}–{top:g}")
    axis.grid(axis="y", linewidth=0.4, alpha=0.5)


def legend_below(figure: Figure) -> None:
    """One legend for every panel, below them (never over a point): each label once, in drawing order."""
    entries = {}
    for axis in figure.axes:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    figure.legend(list(entries.values()), list(entries), loc="outside lower center", ncol=min(len(entries), 2 * len(figure.axes)),
                  fontsize=7, frameon=False)


def caption(figure: Figure, text: str, width: int) -> None:
    figure.suptitle(textwrap.fill(text, width), fontsize=8)


def save(figure: Figure, path: str | Path) -> Figure:
    figure.savefig(Path(path), dpi=120)
    return figure
