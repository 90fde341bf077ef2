"""The base of every option with a fixed set of values."""

from __future__ import annotations

from enum import Enum


class Choice(str, Enum):
    """One of an option's values. OmegaConf rejects any other value while composing the config and
    lists these; being a ``str`` (printed as its value), a member compares, hashes and formats as its
    plain name in the methods' code (``enum.StrEnum``, which Python 3.10 lacks)."""

    __str__ = str.__str__
    __format__ = str.__format__
