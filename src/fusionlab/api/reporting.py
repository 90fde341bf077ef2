"""``fusionlab.report(runs=..., out=None)``: the comparison tables and plots of finished runs, as
``python -m fusionlab.report`` writes them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fusionlab.analysis.comparison import BASELINE
from fusionlab.api.results import Report
from fusionlab.report import report as write_report


def report(runs: str | Path | Sequence[str | Path], out: str | Path | None = None, *, publish: str | Path | None = None,
           title: str | None = None, baseline: str = BASELINE) -> Report:
    """Write the report of every run below ``runs`` (a folder, e.g. a multirun directory, or several: run folders
    too) into ``out`` (default ``<the first folder>/report``); with ``publish``, also as the section ``title`` of
    that file (``docs/results.md``). Returns the report's folder, Markdown, tables (DataFrames) and figures.
    Raises ValueError when the folders hold no readable run, or two runs of one setting and seed."""
    roots = [runs] if isinstance(runs, (str, Path)) else list(runs)
    if not roots:
        raise ValueError("runs=[] names no folder: give a folder of runs (e.g. a multirun directory) or a list")
    path = write_report([str(root) for root in roots], out, publish, title, baseline)
    return Report.read(Path(path))
