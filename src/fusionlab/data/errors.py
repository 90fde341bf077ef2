"""The one error type for malformed input: it names the file, the line and what was expected."""

from __future__ import annotations

from pathlib import Path


class DataFormatError(ValueError):
    def __init__(self, path: str | Path, line: int, expected: str, found: str = ""):
        self.path, self.line, self.expected = str(path), line, expected
        shown = f"; found {found[:120]!r}" if found else ""
        super().__init__(f"{path}:{line}: expected {expected}{shown}")
