"""Span <-> tag conversions for the BIO and BIOES schemes, with conlleval chunk semantics.

``spans_from_tags`` reproduces how conlleval (and seqeval's default mode) reads a tag
sequence, including ill-formed ones: an ``I-X`` after ``O`` or after another type opens a
chunk, a change of type closes one, and ``E``/``S`` close theirs.
"""

from __future__ import annotations

from fusionlab.data.example import Example, Span

_IN_CHUNK = frozenset("BIES")


def _split(tag: str) -> tuple[str, str]:
    if tag == "O":
        return "O", ""
    prefix, _, kind = tag.partition("-")
    return prefix, kind


def _closes(prev: tuple[str, str], cur: tuple[str, str]) -> bool:
    if prev[0] not in _IN_CHUNK:
        return False
    return prev[0] in "ES" or cur[0] in "BSO" or prev[1] != cur[1]


def _opens(prev: tuple[str, str], cur: tuple[str, str]) -> bool:
    if cur[0] in "BS":
        return True
    return cur[0] in "IE" and (prev[0] in "OES" or prev[1] != cur[1])


def spans_from_tags(tags: list[str]) -> list[Span]:
    spans, start, prev = [], 0, ("O", "")
    for position, tag in enumerate([*tags, "O"]):
        cur = _split(tag)
        if _closes(prev, cur):
            spans.append(Span(start, position, prev[1]))
        if _opens(prev, cur):
            start = position
        prev = cur
    return spans


def overlap(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def taggable(spans: list[Span]) -> list[Span]:
    """The spans one tag sequence holds: each in turn, unless it overlaps a span already kept."""
    kept: list[Span] = []
    for span in spans:
        if not any(overlap(span, other) for other in kept):
            kept.append(span)
    return kept


def tags_from_spans(spans: list[Span], length: int, scheme: str = "BIO") -> list[str]:
    """Tags for ``length`` words: the ``taggable`` spans (one overlapping an earlier span is left out, never
    written over another)."""
    tags = ["O"] * length
    for span in taggable(spans):
        width = span.end - span.start
        if scheme == "BIOES" and width == 1:
            tags[span.start] = f"S-{span.label}"
            continue
        tags[span.start] = f"B-{span.label}"
        for position in range(span.start + 1, span.end):
            tags[position] = f"I-{span.label}"
        if scheme == "BIOES":
            tags[span.end - 1] = f"E-{span.label}"
    return tags


def tag_vocabulary(types: list[str], scheme: str) -> list[str]:
    prefixes = "BI" if scheme == "BIO" else "BIES"
    return ["O"] + [f"{p}-{t}" for t in sorted(types) for p in prefixes]


def unrepresentable_triples(example: Example) -> int:
    """Gold triples a BIOES tagger with one relation cell per (head's last word, tail's last word) cannot
    output: those whose subject or object the words do not hold, and those with an entity left out of the
    tags for overlapping another (``taggable``)."""
    tagged = set(taggable(example.entities))
    lost = {r for r in example.relations if r.head not in tagged or r.tail not in tagged}
    return len(set(example.unplaced)) + len(lost)
