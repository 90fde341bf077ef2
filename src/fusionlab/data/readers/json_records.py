"""Records of a JSON file, each with the line it starts on: a JSON array of objects, or JSON lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from fusionlab.data.errors import DataFormatError
from fusionlab.data.readers.text import numbered_lines, read_text


def json_records(path: Path, expected: str) -> Iterator[tuple[int, object]]:
    """Yield (line number, record) from a JSON array file or a JSON-lines file; ``expected`` describes a
    record for the error a malformed line raises."""
    text = read_text(path)
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as error:
            line = getattr(error, "lineno", 1)
            raise DataFormatError(path, line, "a JSON array of objects", getattr(error, "msg", "nested too deep")) \
                from None
        # json gives no line per element; count the opening lines of the objects instead.
        starts = [n for n, line in numbered_lines(text) if line.lstrip().startswith("{")]
        numbers = starts if len(starts) == len(records) else [1] * len(records)
        yield from zip(numbers, records)
        return
    for number, line in numbered_lines(text):
        if line.strip():
            try:
                yield number, json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                raise DataFormatError(path, number, expected, line) from None
