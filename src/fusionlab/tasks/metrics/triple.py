"""Joint extraction: triple P/R/F1 three ways, plus entity F1 of the tagger.

- ``exact`` (``f1``): word positions of both full spans and the relation;
- ``partial``: the last word of each entity and the relation (NYT's partial-match protocol);
- ``string``: CasRel's metric (Wei et al., ACL 2020), which PMEI (AAAI 2021, "Evaluation Protocols") follows:
  per sentence, the set of (subject text, relation, object text) predicted against the set of the triples as
  the data file lists them, so a same-string head and tail, or a triple the tagger cannot represent, is
  scored as listed.

Every gold triple counts in every way: one whose entity the words do not hold (``Example.unplaced``) is a
miss at every level.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric

from fusionlab.data.example import Example, Relation, Span
from fusionlab.tasks.metrics.entity import prf

MATCHES = ("exact", "partial", "string", "entity")


def _exact(r: Relation):
    return (r.head.start, r.head.end, r.label, r.tail.start, r.tail.end)


def _partial(r: Relation):
    return (r.head.last, r.label, r.tail.last)


def triple_strings(words: list[str], relations: list[Relation]) -> set[tuple[str, str, str]]:
    """(subject text, relation, object text) of each relation, its words joined by spaces."""
    text = lambda span: " ".join(words[span.start:span.end])  # noqa: E731
    return {(text(r.head), r.label, text(r.tail)) for r in relations}


def gold_strings(example: Example) -> set[tuple[str, str, str]]:
    """The triples as the data file lists them; a format without them (MNRE) lists its relations' words."""
    return set(example.triples) or triple_strings(example.words, example.relations)


class TripleF1(Metric):
    full_state_update = False

    def __init__(self):
        super().__init__()
        for match in MATCHES:
            for name in ("tp", "pred", "gold"):
                self.add_state(f"{match}_{name}", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def _count(self, match: str, predicted: set, gold: set) -> None:
        setattr(self, f"{match}_tp", getattr(self, f"{match}_tp") + len(predicted & gold))
        setattr(self, f"{match}_pred", getattr(self, f"{match}_pred") + len(predicted))
        setattr(self, f"{match}_gold", getattr(self, f"{match}_gold") + len(gold))

    def update(self, predicted: list[tuple[list[Span], list[Relation]]], gold: list[Example]) -> None:
        """``predicted``: per sentence, the extracted entities and relations; ``gold``: the sentences."""
        for (entities, relations), example in zip(predicted, gold):
            unplaced = set(example.unplaced)  # never equal to a position key: misses at both position levels
            self._count("exact", {_exact(r) for r in relations}, {_exact(r) for r in example.relations} | unplaced)
            self._count("partial", {_partial(r) for r in relations},
                        {_partial(r) for r in example.relations} | unplaced)
            self._count("string", triple_strings(example.words, relations), gold_strings(example))
            self._count("entity", set(entities), set(example.entities))

    def compute(self) -> dict[str, float]:
        scores = {}
        for match in MATCHES:
            counts = [getattr(self, f"{match}_{name}") for name in ("tp", "pred", "gold")]
            scores.update(prf(*counts, prefix=f"{match}_"))
        scores["f1"] = scores["exact_f1"]
        return scores
