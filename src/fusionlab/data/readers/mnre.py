"""MNRE lines: one Python-dict literal per line.

Keys: ``token`` (words), ``h`` and ``t`` (``name`` and ``pos`` as ``[start, end)`` word
offsets), ``img_id`` and ``relation``. ``None`` is the no-relation label; ``NA``, which some
releases write instead, is read as ``None``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from fusionlab.data.errors import DataFormatError
from fusionlab.data.example import Example, Relation, Span
from fusionlab.data.readers.names import file_name
from fusionlab.data.readers.result import ReadResult
from fusionlab.data.readers.text import numbered_lines, read_text

NO_RELATION = "None"
_EXPECTED = "a dict literal with token, h{pos}, t{pos}, img_id, relation"


def _span(record: dict, key: str, n_words: int, path, number: int) -> Span:
    try:
        start, end = (int(v) for v in record[key]["pos"])
    except (KeyError, TypeError, ValueError):
        raise DataFormatError(path, number, f"'{key}': {{'pos': [start, end)}}") from None
    if not 0 <= start < end <= n_words:
        raise DataFormatError(path, number, f"'{key}' pos within [0, {n_words}] with start < end", str([start, end]))
    return Span(start, end)


def group_sentences(examples: list[Example]) -> list[Example]:
    """One example per (sentence, image) with all its entities and every non-None relation,
    as joint extraction reads MNRE."""
    grouped: dict[tuple, Example] = {}
    for example in examples:
        key = (tuple(example.words), example.image)
        target = grouped.setdefault(key, Example(example.words, example.image, source=example.source))
        target.entities += [s for s in example.entities if s not in target.entities]
        target.relations += [r for r in example.relations if r.label != NO_RELATION]
    return list(grouped.values())


class MnreReader:
    """Reads one labelled pair per line; ``group=True`` merges lines of one sentence (joint)."""

    def __init__(self, group: bool = False):
        self.group = group

    def __call__(self, path: str | Path) -> ReadResult:
        examples = []
        for number, line in numbered_lines(read_text(path)):
            if not line.strip():
                continue
            try:
                record = ast.literal_eval(line.strip())
            except (ValueError, SyntaxError):
                raise DataFormatError(path, number, _EXPECTED, line) from None
            if not isinstance(record, dict) or not {"token", "h", "t", "relation"} <= record.keys():
                raise DataFormatError(path, number, _EXPECTED, line)
            words, label, image = record["token"], record["relation"], record.get("img_id")
            if not (isinstance(words, list) and all(isinstance(w, str) for w in words)):
                raise DataFormatError(path, number, "'token': a list of words (strings)", repr(words))
            if not isinstance(label, str):
                raise DataFormatError(path, number, "'relation': one label (a string)", repr(label))
            head = _span(record, "h", len(words), path, number)
            tail = _span(record, "t", len(words), path, number)
            examples.append(
                Example(
                    words,
                    image=None if image is None else file_name(image, path, number, "'img_id'"),
                    entities=[head, tail],
                    relations=[Relation(head, tail, NO_RELATION if label == "NA" else label)],
                    source=f"{path}:{number}",
                )
            )
        return ReadResult(group_sentences(examples) if self.group else examples)
