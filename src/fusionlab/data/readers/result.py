"""What a reader hands back: the examples, and a count of everything it left out and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from fusionlab.data.example import Example


@dataclass
class ReadResult:
    examples: list[Example]
    dropped: Counter = field(default_factory=Counter)
