"""Released label files and line positions: what the datasets' own releases key things by."""

from __future__ import annotations

import json
from pathlib import Path

from fusionlab.data.example import Example
from fusionlab.data.readers.mnre import NO_RELATION


def read_relations(path: str | Path) -> list[str]:
    """The relations of a release, in id order and without the no-relation label (``None``/``NA``: MRE's head
    adds it as its first class): HVPNeT's ``ours_rel2id.json`` (``{relation: id}``) or CasRel's
    ``rel2id.json`` (``[{id: relation}, {relation: id}]``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"relations file {path} does not exist (dataset.relations_file)")
    content = json.loads(path.read_text(encoding="utf-8-sig"))
    if isinstance(content, list) and len(content) == 2 and all(isinstance(c, dict) for c in content):
        content = content[1]
    if not isinstance(content, dict) or not all(isinstance(v, int) for v in content.values()):
        raise ValueError(f"{path}: expected {{relation: id}} or [{{id: relation}}, {{relation: id}}]")
    return [r for r in sorted(content, key=content.get) if r not in (NO_RELATION, "NA")]


def line_index(example: Example) -> int:
    """The example's 0-based line in its split file (readers record ``file:line``, 1-based)."""
    return int(example.source.rsplit(":", 1)[1]) - 1
