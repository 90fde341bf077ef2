"""The plain records every reader returns, whatever the on-disk format."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    """Words ``[start, end)`` of a sentence, with an entity type (``ENT`` when untyped)."""

    start: int
    end: int
    label: str = "ENT"

    @property
    def last(self) -> int:
        return self.end - 1


@dataclass(frozen=True)
class Relation:
    head: Span
    tail: Span
    label: str


@dataclass
class Example:
    """One sentence and its image, with whichever annotation its format carries.

    ``tags`` (BIO per word) for NER, ``relations`` for RE (one marked pair) and joint
    extraction (every triple), ``entities`` for joint extraction, ``label`` for
    sentence classification. ``source`` is ``file:line`` for error messages and dumps;
    ``group`` names an evaluation subset the test metrics are also reported for.
    ``triples`` are joint extraction's gold (subject, relation, object) strings as the data file
    lists them (CasRel JSON), ``unplaced`` those of them whose subject or object the words do not
    hold: they have no relation, and are scored as misses.
    """

    words: list[str]
    image: str | None = None
    tags: list[str] | None = None
    entities: list[Span] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    label: str | None = None
    source: str = ""
    group: str = ""  # an optional evaluation subset (e.g. the synthetic benchmark's irrelevant-image samples)
    # Where the dataset's crop mapping lists this sentence's object crops when it is keyed per sentence rather
    # than by image file name (HVPNeT's MNRE mappings: the line's 0-based index). It belongs to the image: the
    # robustness protocol moves it with the image.
    crop_key: str | None = None
    triples: list[tuple[str, str, str]] = field(default_factory=list)
    unplaced: list[tuple[str, str, str]] = field(default_factory=list)
