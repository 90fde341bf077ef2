"""Every figure of the report, drawn into its folder, and the report's section that lists them: what each shows,
or why it was not drawn (no empty figure is written; a stale one from an earlier report is removed)."""

from __future__ import annotations

from pathlib import Path

import torch

from fusionlab.analysis.cells import z_trajectories
from fusionlab.analysis.plots.allocation import draw_allocation
from fusionlab.analysis.plots.comparison import draw_groups, draw_low_resource, draw_robustness, draw_scores
from fusionlab.analysis.plots.figure import NothingToDraw
from fusionlab.analysis.robustness import robustness_rows


def _allocations(cells: dict) -> dict[str, tuple]:
    """MASE cells' z trajectories per seed [seeds, rounds, modalities] (the rounds every seed ran), by file name."""
    figures = {}
    for (fusion, column), cell in sorted(cells.items()):
        found = z_trajectories(cell)
        if found is not None:
            trajectories, modalities = found
            figures["z_" + "_".join([fusion, *map(str, column[:2])]) + ".png"] = (torch.tensor(trajectories), modalities)
    return figures


def draw_report_figures(cells: dict, tables: dict, out: Path) -> list[str]:
    """Draw the report's figures into ``out``; the Markdown section that says what each shows or why it is absent."""
    figures = {
        "scores.png": ("each row's test score per dataset/task (full data): seeds, their mean and 95 % t-interval, "
                       "the baseline's mean dashed, † where significant",
                       lambda path: draw_scores(cells, tables, path)),
        "groups.png": ("the score where the text decides, with a relevant and an irrelevant image",
                       lambda path: draw_groups(cells, tables, path)),
        "low_resource.png": ("the score against the share of training data (HVPNeT's Figure 3)",
                             lambda path: draw_low_resource(cells, tables, path)),
    }
    for kind, rows in robustness_rows(cells).items():
        figures[f"robustness_{kind}.png"] = (f"the score against the {kind} level (MultiBench's robustness curve)",
                                             lambda path, rows=rows, kind=kind: draw_robustness(rows, kind, tables, path))
    for name, (trajectories, modalities) in _allocations(cells).items():
        figures[name] = ("MASE's modality allocation z after each EM round (its Figure 4), per seed and mean",
                         lambda path, t=trajectories, m=modalities: draw_allocation(t, m, path))
    lines = ["", "## Figures", ""]
    for name, (shows, draw) in figures.items():
        try:
            draw(out / name)
            lines.append(f"- `{name}`: {shows}.")
        except NothingToDraw as why:
            (out / name).unlink(missing_ok=True)
            lines.append(f"- `{name}`: not drawn: {why}.")
    return lines
