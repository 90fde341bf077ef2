"""Reading a label file's text: a regular file, UTF-8, an optional BOM, and an error naming the line of a bad byte."""

from __future__ import annotations

import stat
from pathlib import Path

from fusionlab.data.errors import DataFormatError

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def regular_file(path: str | Path) -> Path:
    """``path`` once it is known to be a regular file, before anything opens it (reading a FIFO or a device
    would block, or never end); else a ``ValueError`` naming it."""
    path = Path(path)
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        found = next((kind for test, kind in _KINDS if test(mode)), "something else")
        raise ValueError(f"{path}: expected a regular file, found {found}")
    return path


def read_text(path: str | Path) -> str:
    """The file decoded as UTF-8 (a leading BOM is dropped); other bytes raise ``DataFormatError``."""
    raw = regular_file(path).read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        data = error.object  # what followed the BOM, if any: error.start counts from there
        number = data.count(b"\n", 0, error.start) + 1
        line = data[data.rfind(b"\n", 0, error.start) + 1:].split(b"\n", 1)[0]
        raise DataFormatError(path, number, f"UTF-8 text (byte {data[error.start]:#04x} is not UTF-8)",
                              line.decode("utf-8", "replace")) from None


def numbered_lines(text: str) -> list[tuple[int, str]]:
    """(line number from 1, line) pairs of ``text``, split at ``\n`` only (as ``read_text`` counts
    lines; ``str.splitlines`` also splits at Unicode separators), without the line ends."""
    return [(number, line.removesuffix("\r")) for number, line in enumerate(text.split("\n"), 1)]
