"""A test prediction dump row (``test_predictions.jsonl``) as text a person reads: entities marked in the
sentence (``[PER Barack Obama] visits [LOC Paris]``), relations as ``head —relation→ tail``, labels as they are."""

from __future__ import annotations

from fusionlab.data.tagging import spans_from_tags

SIDES = ("gold", "predicted")


def marked(words: list[str], tags: list[str]) -> str:
    """The sentence with each entity the BIO ``tags`` hold in brackets, its type first."""
    starts = {span.start: span for span in spans_from_tags(tags)}
    pieces, position = [], 0
    while position < len(words):
        span = starts.get(position)
        if span is None:
            pieces.append(words[position])
            position += 1
        else:
            pieces.append(f"[{span.label} {' '.join(words[span.start:span.end])}]")
            position = span.end
    return " ".join(pieces)


def arrow(head: str, relation: str, tail: str) -> str:
    return f"{head} —{relation}→ {tail}"


def _entities(row: dict) -> dict[str, str]:
    return {side: marked(row["words"], row[side]) for side in SIDES}


def _marked_pair(row: dict) -> dict[str, str]:
    head, tail = (" ".join(row["words"][slice(*row[end])]) for end in ("head", "tail"))
    return {side: arrow(head, row[side], tail) for side in SIDES}


def _triples(row: dict) -> dict[str, str]:
    return {side: "; ".join(arrow(*triple) for triple in row[f"{side}_triples"]) for side in SIDES}


def _label(row: dict) -> dict[str, str]:
    return {side: row[side] for side in SIDES}


_BY_TASK = {"mner": _entities, "mre": _marked_pair, "joint": _triples, "msa": _label}


def readable(task: str, row: dict) -> dict[str, str]:
    """``{"gold": ..., "predicted": ...}`` of one dump row of ``task`` (mner, mre, joint or msa)."""
    if task not in _BY_TASK:
        raise KeyError(f"no readable form of a {task!r} prediction row: known tasks are {sorted(_BY_TASK)}")
    return _BY_TASK[task](row)
