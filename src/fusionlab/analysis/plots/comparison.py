"""The report's figures: scores per task with error bars, clean vs irrelevant image, low-resource curves.

Each function takes the report's cells ({(fusion, (dataset, task, ratio)): Cell}) and writes a PNG.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CLEAN, IRRELEVANT = "text_decides", "text_decides_irrelevant_image"


def _spread(values: list[float]) -> tuple[float, float]:
    return 100 * statistics.fmean(values), 100 * (statistics.stdev(values) if len(values) > 1 else 0.0)


def _panels(count: int, width: float = 4.2):
    figure, axes = plt.subplots(1, max(count, 1), figsize=(width * max(count, 1), 3.6), squeeze=False,
                                constrained_layout=True)
    return figure, axes[0]


def _save(figure, path: Path) -> Path:
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def draw_bars(cells: dict, path: Path) -> Path:
    """One panel per dataset/task (full data): mean main metric per fusion, std as error bars."""
    columns = sorted({c for _, c in cells if c[2] == 1.0})
    figure, axes = _panels(len(columns))
    for axis, column in zip(axes, columns):
        fusions = sorted(f for f, c in cells if c == column and cells[f, c].runs)
        spreads = [_spread(list(cells[f, column].scores().values())) for f in fusions]
        axis.bar(range(len(fusions)), [m for m, _ in spreads], yerr=[s for _, s in spreads], capsize=3,
                 color="#4c72b0")
        axis.set_xticks(range(len(fusions)), fusions, rotation=45, ha="right", fontsize=8)
        monitor = cells[fusions[0], column].monitor if fusions else ""
        axis.set_title(f"{column[0]} / {column[1]}", fontsize=9)
        axis.set_ylabel(f"test {monitor} (%)")
    return _save(figure, path)


def draw_groups(cells: dict, path: Path) -> Path:
    """Per dataset/task: each fusion's score where the text decides, with a relevant vs an irrelevant image."""
    columns = sorted({c for (f, c), cell in cells.items() if c[2] == 1.0 and cell.group_scores(IRRELEVANT)})
    figure, axes = _panels(len(columns))
    for axis, column in zip(axes, columns):
        fusions = sorted(f for f, c in cells if c == column and cells[f, c].group_scores(IRRELEVANT))
        for offset, (group, label) in enumerate([(CLEAN, "relevant image"), (IRRELEVANT, "irrelevant image")]):
            spreads = [_spread(cells[f, column].group_scores(group) or [0.0]) for f in fusions]
            axis.bar([i + 0.4 * offset for i in range(len(fusions))], [m for m, _ in spreads], width=0.4,
                     yerr=[s for _, s in spreads], capsize=2, label=label)
        axis.set_xticks([i + 0.2 for i in range(len(fusions))], fusions, rotation=45, ha="right", fontsize=8)
        axis.set_title(f"{column[0]} / {column[1]}: the text decides", fontsize=9)
        axis.legend(fontsize=7)
    return _save(figure, path)


def draw_low_resource(cells: dict, path: Path) -> Path:
    """Per dataset/task: main metric against the share of training data, one line per fusion (HVPNeT Fig. 3)."""
    settings = sorted({c[:2] for _, c in cells})
    figure, axes = _panels(len(settings))
    for axis, setting in zip(axes, settings):
        for fusion in sorted({f for f, c in cells if c[:2] == setting}):
            points = sorted((c[2], _spread(list(cell.scores().values()))) for (f, c), cell in cells.items()
                            if f == fusion and c[:2] == setting and cell.runs)
            axis.errorbar([r for r, _ in points], [m for _, (m, _) in points], yerr=[s for _, (_, s) in points],
                          marker="o", capsize=2, label=fusion)
        axis.set_xlabel("share of training data")
        axis.set_title(f"{setting[0]} / {setting[1]}", fontsize=9)
        axis.legend(fontsize=7)
    return _save(figure, path)


def draw_robustness(rows: list[dict], kind: str, path: Path) -> Path:
    """Per dataset/task: the main metric against the corruption level, one line per fusion (MultiBench)."""
    columns = sorted({r["column"] for r in rows})
    figure, axes = _panels(len(columns))
    for axis, column in zip(axes, columns):
        for row in (r for r in rows if r["column"] == column):
            axis.plot(row["levels"], [100 * s for s in row["scores"]], marker="o", label=row["fusion"])
        axis.set_xlabel(f"{kind} level")
        axis.set_title(f"{column[0]} / {column[1]}", fontsize=9)
        axis.legend(fontsize=7)
    return _save(figure, path)
