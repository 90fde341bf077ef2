"""CasRel-style JSON (NYT, WebNLG, the synthetic joint files).

A JSON array, or one JSON object per line, of ``{"text": ..., "triple_list": [[subject,
relation, object], ...]}`` with an optional ``img_id``. Words are the whitespace tokens
of ``text``; each entity is located as its first occurrence in them. A triple whose
entity cannot be found is dropped and counted (``triple_entity_not_found``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from fusionlab.data.errors import DataFormatError
from fusionlab.data.example import Example, Relation, Span
from fusionlab.data.readers.result import ReadResult
from fusionlab.data.readers.text import numbered_lines, read_text

_EXPECTED = 'an object {"text": str, "triple_list": [[subject, relation, object], ...]}'


def _locate(words: list[str], phrase: str) -> Span | None:
    target = phrase.split()
    for start in range(len(words) - len(target) + 1):
        if words[start:start + len(target)] == target:
            return Span(start, start + len(target))
    return None


def _records(path: Path):
    """Yield (line number, record) from a JSON array file or a JSON-lines file."""
    text = read_text(path)
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as error:
            raise DataFormatError(path, error.lineno, "a JSON array of objects", error.msg) from None
        # json gives no line per element; count the opening lines of the objects instead.
        starts = [n for n, line in numbered_lines(text) if line.lstrip().startswith("{")]
        numbers = starts if len(starts) == len(records) else [1] * len(records)
        yield from zip(numbers, records)
        return
    for number, line in numbered_lines(text):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError:
                raise DataFormatError(path, number, _EXPECTED, line) from None


class CasrelReader:
    def __call__(self, path: str | Path) -> ReadResult:
        path = Path(path)
        examples, dropped = [], Counter()
        for number, record in _records(path):
            if not isinstance(record, dict) or not isinstance(record.get("text"), str) \
                    or not isinstance(record.get("triple_list"), list):
                raise DataFormatError(path, number, _EXPECTED, str(record))
            words = record["text"].split()
            entities: dict[Span, None] = {}
            relations = []
            for triple in record["triple_list"]:
                if not (isinstance(triple, (list, tuple)) and len(triple) == 3):
                    raise DataFormatError(path, number, "triples as [subject, relation, object]", str(triple))
                head, tail = _locate(words, str(triple[0])), _locate(words, str(triple[2]))
                if head is None or tail is None:
                    dropped["triple_entity_not_found"] += 1
                    continue
                entities.update({head: None, tail: None})
                relations.append(Relation(head, tail, str(triple[1])))
            examples.append(Example(words, image=record.get("img_id"), entities=list(entities),
                                    relations=relations, source=f"{path}:{number}"))
        return ReadResult(examples, dropped)
