"""New inputs a user gives a trained run (``fusionlab.predict``, ``fusionlab.load(...).predict``, an export's
example batch): a sentence split on whitespace, an optional image path, and for mre the head and tail word
spans; or a JSONL file of such records. Each bad input is an error naming it."""

from __future__ import annotations

import json
from pathlib import Path

from fusionlab.data.errors import DataFormatError
from fusionlab.data.example import Example, Span


def _span(value, name: str, n_words: int, where: str) -> Span:
    try:
        start, end = (int(v) for v in (value.split(":") if isinstance(value, str) else value))
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} must be 'start:end' or [start, end], got {value!r}") from None
    if not 0 <= start < end <= n_words:
        raise ValueError(f"{where}: {name} {start}:{end} is outside the sentence's {n_words} words "
                         f"(expected 0 <= start < end <= {n_words})")
    return Span(start, end)


def to_example(record: dict, where: str = "input") -> Example:
    text = record.get("text")
    if not isinstance(text, str) or not text.split():
        raise ValueError(f"{where}: an input needs a 'text' with at least one word, got {text!r}")
    words = text.split()
    image = record.get("image")
    if image is not None and not isinstance(image, str):
        raise ValueError(f"{where}: 'image' must be a path (a string), got {image!r}")
    if image:
        path = Path(image).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"{where}: image {image} does not exist")
        image = str(path)
    entities = [_span(record[k], k, len(words), where) for k in ("head", "tail") if record.get(k) is not None]
    return Example(words, image or None, entities=entities)


def read_inputs(path: Path) -> list[dict]:
    """The inputs file's records; a line that is not one JSON object stops with ``file:line``."""
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                record = None
            if not isinstance(record, dict):
                raise DataFormatError(path, number, 'one JSON object per line ({"text": ..., "image": ...})', line)
            records.append(record)
    return records
