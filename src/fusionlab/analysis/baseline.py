"""What the report compares rows against: a fusion (``text_only``), or a setting ``key=value`` whose row of
each fusion the rows with another value of that key are compared with. Row names are ``fusion`` or
``fusion [key=value, ...]`` (``fusionlab.analysis.cells.row_names``). No dependency beyond the standard
library: the plots that MASE draws during training import it."""

from __future__ import annotations

import re


def row_settings(row: str) -> tuple[str, list[str]]:
    """A row's fusion and the ``key=value`` settings that set it apart (``row_names``)."""
    method, _, settings = row.partition(" [")
    return method, re.split(r", (?=[\w.+-]+=)", settings.removesuffix("]")) if settings else []


def is_setting(baseline: str) -> bool:
    """Whether the baseline is a setting ``key=value`` rather than a fusion."""
    return "=" in baseline


def is_baseline(row: str, baseline: str) -> bool:
    """Whether ``row`` is a baseline row: the baseline fusion's, or, where the baseline is a setting
    ``key=value``, one with that setting."""
    method, settings = row_settings(row)
    return baseline in settings if is_setting(baseline) else method == baseline


def baseline_name(baseline: str) -> str:
    """The baseline as the report's text names it."""
    return f"the same row with {baseline}" if is_setting(baseline) else baseline
