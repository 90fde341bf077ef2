"""Robustness in the report: the same checkpoints tested with other images or corrupted inputs, always against
the clean score of the same seeds.

``evaluation_<how>.json`` of ``fusionlab.evaluate test_images=shuffled|removed``: paired with the clean score seed
by seed (``paired_perturbations``). Curves (MultiBench's measures) from ``robustness_<kind>.json`` of
``fusionlab.evaluate corruption=<kind>``: score against corruption level per fusion, mean over seeds (each
curve starts at its own seed's clean score).

- relative robustness: the area under the curve over levels [0, 1] (trapezoid), i.e. the mean score
  over the corruption range;
- effective robustness against a baseline b: (area - area_b) - (clean - clean_b), the part of a method's
  advantage under corruption that its clean advantage does not already give (positive: degrades less).
"""

from __future__ import annotations

import statistics

import numpy as np

BASELINES = ("text_only", "concat")


def seed_curves(records: list[dict], monitor: str) -> tuple[list[float], dict[int, list[float]]] | None:
    """Levels (those every seed was tested at) and each seed's scores at them; None below two levels."""
    levels = sorted(set.intersection(*({p["level"] for p in r["points"]} for r in records))) if records else []
    if len(levels) < 2:
        return None
    return levels, {r["seed"]: [next(p["metrics"]["test"][monitor] for p in r["points"] if p["level"] == level)
                                for level in levels] for r in records}


def paired_perturbations(cell) -> dict[str, dict]:
    """Per way its test images were changed (shuffled, removed): the seeds scored both clean and so (``n``, of
    ``seeds`` clean ones) with both scores in seed order. A seed without either score is left out of both."""
    clean = cell.scores()
    paired = {}
    for how, tested in sorted(cell.perturbed.items()):
        changed = {t["seed"]: t["metrics"]["test"][cell.monitor] for t in tested if cell.monitor in t["metrics"]["test"]}
        seeds = sorted(clean.keys() & changed.keys())
        paired[how] = {"n": len(seeds), "seeds": len(clean), "clean": [clean[s] for s in seeds],
                       "changed": [changed[s] for s in seeds]}
    return paired


def area(levels: list[float], scores: list[float]) -> float:
    return float(np.trapezoid(scores, levels) / (levels[-1] - levels[0]))


def robustness_rows(cells: dict) -> dict[str, list[dict]]:
    """Per corruption kind: one row per cell with its curve, relative and effective robustness."""
    kinds = sorted({kind for cell in cells.values() for kind in cell.curves})
    table: dict[str, list[dict]] = {}
    for kind in kinds:
        rows = {}
        for (name, column), cell in cells.items():
            curve = seed_curves(cell.curves.get(kind, []), cell.monitor)
            if curve:
                levels, seeds = curve
                scores = [statistics.fmean(at_level) for at_level in zip(*seeds.values())]
                rows[name, column] = {"fusion": name, "method": cell.method, "column": column, "monitor": cell.monitor,
                                      "levels": levels, "seed_scores": seeds, "scores": scores,
                                      "area": area(levels, scores), "clean": scores[0]}
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
                  "| fusion | dataset/task | seeds | " + " | ".join(f"level {level:g}" for level in levels)
                  + " | relative robustness (area) | effective vs text_only | effective vs concat |",
                  "|" + " --- |" * (len(levels) + 6)]
        for row in rows:
            effective = [row[f"effective_vs_{b}"] for b in BASELINES]
            lines.append(f"| {row['fusion']} | {column_name(row['column'])} | {len(row['seed_scores'])} | "
                         + " | ".join(f"{100 * s:.1f}" for s in row["scores"]) + f" | {100 * row['area']:.1f} | "
                         + " | ".join("-" if e is None else f"{100 * e:+.1f}" for e in effective) + " |")
    return lines
