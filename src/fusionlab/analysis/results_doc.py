"""``docs/results.md``: report sections written from runs, never typed by hand. Each section says which
command made the runs, at which commit and on which device, and the report command that wrote it; writing
a section again replaces it."""

from __future__ import annotations

import re
from pathlib import Path

TRAIN = "python -m fusionlab.train"  # how a run's results.json writes its command (fusionlab.train.training_command)


def provenance(cells: dict) -> dict[str, list[str]]:
    """The commits, devices and training commands (seeds merged) of the report's finished runs."""
    runs = [r.get("run", {}) for cell in cells.values() for r in cell.runs]
    codes = [r.get("code") or {} for r in runs]
    commits = sorted({(c.get("commit") or "unknown")[:10] + (" (with uncommitted changes)" if c.get("dirty") else "")
                      for c in codes})
    seeds: dict[str, list[str]] = {}
    for command in (today_s_spelling(r.get("command") or "unknown") for r in runs):
        found = re.search(r"\bseed=(\S+)", command)
        seeds.setdefault(re.sub(r"\bseed=\S+", "seed=*", command), []).append(found.group(1) if found else "")
    commands = [_with_seeds(key, sorted(set(values), key=lambda v: (len(v), v))) for key, values in sorted(seeds.items())]
    return {"commits": commits,
            "devices": sorted({r.get("device", "unknown") for r in runs}), "commands": commands}


def today_s_spelling(command: str) -> str:
    """A recorded command as it runs today: runs trained before ``experiment`` and ``hparams_search`` joined
    the defaults list recorded them with ``+`` (``+experiment=X``), which Hydra now refuses; same config."""
    return re.sub(r"(?<=\s)\+(experiment|hparams_search)=", r"\1=", command)


def _with_seeds(command: str, seeds: list[str]) -> str:
    """``command`` (its seed written ``seed=*``) for all ``seeds``: several are Hydra's sweep ``seed=1,2,3``, which
    only a multirun accepts, so the command gains ``-m`` and runs as written."""
    command = command.replace("seed=*", "seed=" + ",".join(seeds))
    return command.replace(TRAIN, f"{TRAIN} -m", 1) if len(seeds) > 1 and command.startswith(f"{TRAIN} ") else command


def section(title: str, body: str, meta: dict[str, list[str]], report_command: str) -> str:
    """``body`` (a report's Markdown) under ``## title``, its headings one level down, with its provenance."""
    body = re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + 2) + " ", body, flags=re.M)
    commands = "\n".join(f"    {c}" for c in meta["commands"])
    return (f"## {title}\n\nRuns made at commit {', '.join(meta['commits'])} on {'; '.join(meta['devices'])} by:\n\n"
            f"{commands}\n\nWritten by `{report_command}`.\n\n{body.strip()}\n")


def publish(path: str | Path, title: str, text: str) -> Path:
    """Write ``text`` (a ``section``) into ``path``: in place of the section of the same title, else last."""
    path = Path(path)
    existing = path.read_text() if path.exists() else ("# Results\n\nEvery section below is written by "
                                                       "`python -m fusionlab.report runs=... publish=docs/results.md`.\n")
    head, *sections = re.split(r"(?m)^(?=## )", existing)
    titles = [s.split("\n", 1)[0] for s in sections]
    if f"## {title}" in titles:
        sections[titles.index(f"## {title}")] = text
    else:
        sections.append(text)
    path.write_text(head.rstrip() + "\n\n" + "\n".join(s.rstrip() + "\n" for s in sections))
    return path
