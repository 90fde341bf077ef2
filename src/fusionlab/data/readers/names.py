"""File names read from a split file (image ids, post ids): they must name a file inside their folder."""

from __future__ import annotations

from pathlib import Path, PurePath

from fusionlab.data.errors import DataFormatError


def climbs_out(name: str) -> bool:
    """Whether ``name`` joined to a folder could name something outside it: absolute, or with a ``..`` part."""
    path = PurePath(name)
    return path.is_absolute() or ".." in path.parts


def file_name(value: object, path: str | Path, number: int, what: str) -> str:
    """``value`` when it is a string naming a file inside its folder; else a ``DataFormatError`` at ``path:number``."""
    if not isinstance(value, str) or climbs_out(value):
        raise DataFormatError(path, number, f"{what} naming a file inside its folder (a string; not absolute, "
                                            "no '..')", repr(value))
    return value
