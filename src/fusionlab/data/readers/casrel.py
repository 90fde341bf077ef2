"""CasRel-style JSON (NYT, WebNLG, the synthetic joint files).

A JSON array, or one JSON object per line, of ``{"text": ..., "triple_list": [[subject, relation, object], ...]}``
with an optional ``img_id``. Words are the whitespace tokens of ``text``. The listed triples are kept as they
are (``Example.triples``: what CasRel's metric compares); each is also placed on the words for the tagger:

- every entity string gets occurrences that overlap no other entity's where the text allows it (the first
  such, in the order the strings are listed), so one BIOES sequence holds them all;
- a triple whose subject and object are the same string gets two distinct occurrences (head the earlier)
  where the text has two, else one span as both head and tail (a head = tail cell);
- where no choice avoids an overlap, the fewest triples lose an entity: its relation keeps the entity's
  first occurrence, and the tagger cannot output it (``fusionlab.data.tagging.unrepresentable_triples``);
- a triple whose subject or object the words do not hold is ``unplaced``: no relation, a miss when scored.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

from fusionlab.data.errors import DataFormatError
from fusionlab.data.example import Example, Relation, Span
from fusionlab.data.readers.json_records import json_records
from fusionlab.data.readers.names import file_name
from fusionlab.data.readers.result import ReadResult
from fusionlab.data.tagging import overlap

_EXPECTED = 'an object {"text": str, "triple_list": [[subject, relation, object], ...]}'
Triple = tuple[str, str, str]


def _occurrences(words: list[str], phrase: str) -> list[Span]:
    target = phrase.split()
    if not target:
        return []
    return [Span(start, start + len(target)) for start in range(len(words) - len(target) + 1)
            if words[start:start + len(target)] == target]


def _choices(found: list[Span], twice: bool) -> list[tuple[Span, ...]]:
    """An entity string's options, preferred first: two apart occurrences (``twice``: it is both subject and
    object of one triple), one occurrence, none."""
    pairs = [pair for pair in combinations(found, 2) if not overlap(*pair)] if twice else []
    return [*pairs, *((span,) for span in found), ()]


def _place(names: list[str], found: dict[str, list[Span]], triples: list[Triple]) -> dict[str, tuple[Span, ...]]:
    """The occurrences each entity string is tagged at: no two overlap, as many triples as possible keep both
    entities, and among those the first found in preference order (a depth-first search with a bound)."""
    options = {name: _choices(found[name], any(s == o == name for s, _, o in triples)) for name in names}
    best: tuple[int, dict] = (-1, {})

    def kept(chosen: dict, open_names: set) -> int:
        return sum(bool(chosen.get(s) or s in open_names) and bool(chosen.get(o) or o in open_names)
                   for s, _, o in triples)

    def search(index: int, chosen: dict, taken: list[Span]) -> bool:
        nonlocal best
        if kept(chosen, set(names[index:])) <= best[0]:
            return False
        if index == len(names):
            best = (kept(chosen, set()), dict(chosen))
            return best[0] == len(triples)  # every triple kept: nothing can do better
        name = names[index]
        for option in options[name]:
            if any(overlap(span, other) for span in option for other in taken):
                continue
            chosen[name] = option
            if search(index + 1, chosen, taken + list(option)):
                return True
        del chosen[name]
        return False

    search(0, {}, [])
    return best[1]


def _names(triples: list[Triple]) -> list[str]:
    """The subjects and objects, each once, in the order they are listed."""
    return list(dict.fromkeys(name for s, _, o in triples for name in (s, o)))


def _example(words: list[str], listed: list[Triple], **fields) -> Example:
    distinct = list(dict.fromkeys(listed))
    found = {name: _occurrences(words, name) for name in _names(distinct)}
    placeable = [t for t in distinct if found[t[0]] and found[t[2]]]
    tagged = _place(_names(placeable), found, placeable)

    def spans(name: str) -> tuple[Span, ...]:
        return tagged.get(name) or found[name][:1]

    relations = [Relation(spans(s)[0], spans(o)[-1] if s == o else spans(o)[0], r) for s, r, o in placeable]
    return Example(words, entities=sorted({span for option in tagged.values() for span in option},
                                          key=lambda span: span.start),
                   relations=relations, triples=listed, unplaced=[t for t in distinct if t not in placeable], **fields)


class CasrelReader:
    def __call__(self, path: str | Path) -> ReadResult:
        path = Path(path)
        examples = []
        for number, record in json_records(path, _EXPECTED):
            if not isinstance(record, dict) or not isinstance(record.get("text"), str) \
                    or not isinstance(record.get("triple_list"), list):
                raise DataFormatError(path, number, _EXPECTED, str(record))
            listed = []
            for triple in record["triple_list"]:
                if not (isinstance(triple, list) and len(triple) == 3 and all(isinstance(x, str) for x in triple)):
                    raise DataFormatError(path, number, "triples as [subject, relation, object] strings", str(triple))
                listed.append(tuple(triple))
            image = record.get("img_id")
            examples.append(_example(record["text"].split(), listed, source=f"{path}:{number}",
                                     image=None if image is None else file_name(image, path, number, "'img_id'")))
        return ReadResult(examples)
