"""Progress bars for long work that is otherwise silent (filling the feature cache, hashing large data
files), drawn on stderr only where a terminal shows it: logs, SLURM jobs and CI get none."""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm.auto import tqdm


def progress(total: int, description: str, unit: str = "it", stream: TextIO | None = None, **options) -> tqdm:
    """A bar to ``update(n)``; shown when ``stream`` (default stderr) is a terminal, and then cleared."""
    stream = stream or sys.stderr
    return tqdm(total=total, desc=description, unit=unit, file=stream, leave=False,
                disable=not stream.isatty(), **options)
