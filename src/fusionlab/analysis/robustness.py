"""Robustness curves in the report (MultiBench's measures) from ``robustness_<kind>.json`` of
``fusionlab.evaluate corruption=<kind>``: score against corruption level per fusion, mean over seeds.

- relative robustness: the area under the curve over levels [0, 1] (trapezoid), i.e. the mean score
  over the corruption range;
- effective robustness against a baseline b: (area - area_b) - (clean - clean_b), the part of a method's
  advantage under corruption that its clean advantage does not already give (positive: degrades less).
"""

from __future__ import annotations

import statistics

import numpy as np

BASELINES = ("text_only", "concat")


def mean_curve(records: list[dict], monitor: str) -> tuple[list[float], list[float]] | None:
    """Levels and the seeds' mean score at each (the levels every seed was tested at)."""
    levels = sorted(set.intersection(*({p["level"] for p in r["points"]} for r in records))) if records else []
    if len(levels) < 2:
        return None
    scores = [statistics.fmean(p["metrics"]["test"][monitor] for r in records for p in r["points"] if p["level"] == level)
              for level in levels]
    return levels, scores


def area(levels: list[float], scores: list[float]) -> float:
    return float(np.trapezoid(scores, levels) / (levels[-1] - levels[0]))


def robustness_rows(cells: dict) -> dict[str, list[dict]]:
    """Per corruption kind: one row per cell with its curve, relative and effective robustness."""
    kinds = sorted({kind for cell in cells.values() for kind in cell.curves})
    table: dict[str, list[dict]] = {}
    for kind in kinds:
        rows = {}
        for (name, column), cell in cells.items():
            curve = mean_curve(cell.curves.get(kind, []), cell.monitor)
            if curve:
                rows[name, column] = {"fusion": name, "method": cell.method, "column": column, "levels": curve[0],
                                      "scores": curve[1], "area": area(*curve), "clean": curve[1][0]}
        for row in rows.values():
            for baseline in BASELINES:
                base = next((r for r in rows.values() if r["method"] == baseline and r["column"] == row["column"]
                             and r["levels"] == row["levels"]), None)
                row[f"effective_vs_{baseline}"] = (None if base is None or row["method"] == baseline else
                                                  (row["area"] - base["area"]) - (row["clean"] - base["clean"]))
        table[kind] = sorted(rows.values(), key=lambda r: (r["column"], r["fusion"]))
    return table


def robustness_markdown(table: dict[str, list[dict]], column_name) -> list[str]:
    lines = []
    for kind, rows in table.items():
        levels = rows[0]["levels"]
        lines += ["", f"## Robustness curve: {kind} (test, main metric %, mean over seeds)", "",
                  "| fusion | dataset/task | " + " | ".join(f"level {level:g}" for level in levels)
                  + " | relative robustness (area) | effective vs text_only | effective vs concat |",
                  "|" + " --- |" * (len(levels) + 5)]
        for row in rows:
            effective = [row[f"effective_vs_{b}"] for b in BASELINES]
            lines.append(f"| {row['fusion']} | {column_name(row['column'])} | "
                         + " | ".join(f"{100 * s:.1f}" for s in row["scores"]) + f" | {100 * row['area']:.1f} | "
                         + " | ".join("-" if e is None else f"{100 * e:+.1f}" for e in effective) + " |")
    return lines
