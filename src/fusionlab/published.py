"""Published headline numbers of the four papers (``references/published.csv``: method, our fusion name,
dataset, task, metric, value in %, the table it comes from, the encoders used), set beside what we measure."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

PUBLISHED = Path(__file__).parent / "references" / "published.csv"


def published_results(path: Path = PUBLISHED) -> list[dict]:
    with path.open(newline="") as handle:
        return [{**row, "value": float(row["value"])} for row in csv.DictReader(handle)]


def against_published(cells: dict, rows: list[dict] | None = None) -> list[dict]:
    """For every report cell with a published number for its fusion, dataset, task and metric: the number,
    our mean and std over seeds (%), the difference and whether the number lies within our seeds' range."""
    compared = []
    for row in published_results() if rows is None else rows:
        for (name, (dataset, task, ratio)), cell in sorted(cells.items()):
            if (cell.method, dataset, task, ratio) != (row["fusion"], row["dataset"], row["task"], 1.0):
                continue
            scores = [100 * v for v in cell.scores(row["metric"]).values()]
            if not scores:
                continue
            mean = statistics.fmean(scores)
            compared.append({**row, "row": name, "seeds": len(scores), "mean": mean,
                             "std": statistics.stdev(scores) if len(scores) > 1 else None,
                             "difference": mean - row["value"], "inside": min(scores) <= row["value"] <= max(scores)})
    return compared


def published_markdown(compared: list[dict]) -> list[str]:
    if not compared:
        return []
    lines = ["", "## Published numbers beside ours", "",
             "| ours | dataset/task | metric | published | source | encoders | ours (mean ± std, seeds) | "
             "ours − published | published within our seeds' range |", "|" + " --- |" * 9]
    for c in compared:
        ours = f"{c['mean']:.2f} ± {c['std']:.2f} ({c['seeds']})" if c["std"] is not None else f"{c['mean']:.2f} (1 run)"
        lines.append(f"| {c['row']} | {c['dataset']}/{c['task']} | {c['metric']} | {c['value']:.2f} ({c['method']}) | "
                     f"{c['source']} | {c['encoders']} | {ours} | "
                     f"{c['difference']:+.2f} | {'yes' if c['inside'] else 'no'} |")
    return lines
