"""Reading a run folder's records (``results.json``, ``run.json``, ``failed.json``, checkpoints): a truncated
or empty file stops with its name and what to do about it, never with a bare ``EOFError`` or ``JSONDecodeError``."""

from __future__ import annotations

import json
from pathlib import Path

import torch


class CorruptRecordError(ValueError):
    """A record that cannot be read (truncated, empty, not what it should hold); the message names the file."""


def read_json(path: str | Path, remedy: str):
    """The JSON ``path`` holds; ``remedy`` (what to do when it is corrupt) ends the message."""
    try:
        return json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CorruptRecordError(f"{path} is corrupt (truncated or empty: {error}): {remedy}") from None


def load_checkpoint(path: str | Path, remedy: str, **options) -> dict:
    """A checkpoint's contents (``weights_only``: no code is unpickled; a file that would run some is refused
    by torch as it is, not called corrupt)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, **options)
    except (EOFError, RuntimeError) as error:  # torch's errors for an empty or cut-off file
        raise CorruptRecordError(f"{path} is corrupt (truncated or empty: {type(error).__name__}: "
                                 f"{str(error).splitlines()[0] if str(error) else 'no data'}): {remedy}") from None
