"""Published headline numbers of the four papers (``references/published.csv``: method, our fusion name,
dataset, task, metric, value in %, the table it comes from, the encoders used, a note where our data is
not the paper's, and the release of the benchmark the number was computed on), set beside what we measure.
A number is compared only with runs that read its release (``fusionlab.data.releases``); otherwise the row
says which release the paper used and which the runs read."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

PUBLISHED = Path(__file__).parents[1] / "references" / "published.csv"


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
            read = sorted({run.get("data", {}).get("release", "unknown") for run in cell.runs})
            same = read == [row["release"]]
            version = None if same else f"the paper's number: {row['release']}; the runs read: {', '.join(read)}"
            compared.append({**row, "row": name, "seeds": len(scores), "mean": mean,
                             "std": statistics.stdev(scores) if len(scores) > 1 else None, "version": version,
                             "difference": mean - row["value"] if same else None,
                             "inside": min(scores) <= row["value"] <= max(scores) if same else None})
    return compared


def published_markdown(compared: list[dict]) -> list[str]:
    """The table, a row's note marked [n] beside its dataset and written out below."""
    if not compared:
        return []
    lines = ["", "## Published numbers beside ours", "",
             "| ours | dataset/task | metric | published | source | encoders | ours (mean ± std, seeds) | "
             "ours − published | published within our seeds' range |", "|" + " --- |" * 9]
    notes: list[str] = []
    for c in compared:
        ours = f"{c['mean']:.2f} ± {c['std']:.2f} ({c['seeds']})" if c["std"] is not None else f"{c['mean']:.2f} (1 run)"
        markers = []
        for note in (c.get("note"), c.get("version")):
            if note and note not in notes:
                notes.append(note)
            markers += [f"[{notes.index(note) + 1}]"] if note else []
        marker = " " + " ".join(markers) if markers else ""
        comparison = (f"{c['difference']:+.2f} | {'yes' if c['inside'] else 'no'}" if c["difference"] is not None
                      else "- (another release) | -")
        lines.append(f"| {c['row']} | {c['dataset']}/{c['task']}{marker} | {c['metric']} | {c['value']:.2f} "
                     f"({c['method']}) | {c['source']} | {c['encoders']} | {ours} | {comparison} |")
    return lines + ([""] + [f"- [{number}] {note}" for number, note in enumerate(notes, 1)] if notes else [])
