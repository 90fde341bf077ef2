"""``python -m fusionlab.report runs=<multirun dir> [out=<dir>] [publish=docs/results.md title="..."]
[baseline=<fusion or "key=value">]`` or ``python -m fusionlab.report runs=[<dir>,<dir>] out=<dir>``: comparison tables and plots.

A Hydra app (``conf/report.yaml`` documents every key) that writes no Hydra output folder. Reads every
``results.json`` (and every ``failed.json`` a failed sweep job leaves) under the directories and writes,
into ``out`` (default ``<dir>/report``):

- ``report.md``: the comparison (mean +- std over seeds of each task's main test metric per
  fusion x dataset/task, best per column in bold, † where a paired t-test over shared seeds
  against the baseline gives p < 0.05; the baseline is a fusion, or a setting ``key=value``, whose row of
  each fusion the others with another value of that key are tested against), the paired tests against
  the baseline (t-test over seeds; the difference with its paired bootstrap interval over test
  sentences), seed and failure counts, the
  evidence-group table (clean vs irrelevant image), the robustness table (``evaluation_*.json`` of
  ``fusionlab.evaluate``: images shuffled or removed, beside the clean score) and the efficiency
  table (MuSE Table 5), for joint runs their triples scored by position and as CasRel's strings, and, for
  MASE runs, the modality allocation z after each EM round;
- ``results.csv`` (every test metric, mean and std), ``runs.csv`` (one row per run and seed; also
  ``runs.parquet`` where pyarrow is installed), ``comparison.tex`` (booktabs);
- ``scores.png``, ``groups.png``, ``low_resource.png``, ``robustness_<kind>.png`` and
  ``z_<fusion>_<dataset>_<task>.png`` (MASE's Figure 4), each drawn only when there is something to show;
  report.md's last section lists them, or says why one is absent (``fusionlab.analysis.plots.report``).

With ``publish``, the report is also a section of that file (``docs/results.md``); it prints the
report's Markdown and where it lies.
"""

from __future__ import annotations

import logging
import re
import shlex
from pathlib import Path

import hydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from fusionlab import CONF
from fusionlab.analysis.cells import collect
from fusionlab.analysis.comparison import BASELINE, build_tables
from fusionlab.analysis.plots.report import draw_report_figures
from fusionlab.analysis.published import against_published, published_markdown
from fusionlab.analysis.results_doc import provenance, publish, section
from fusionlab.analysis.runs_table import write_runs
from fusionlab.analysis.tables import latex, markdown, write_csv
from fusionlab.analysis.wandb_upload import upload_report
from fusionlab.api.callable_module import make_callable

log = logging.getLogger(__name__)
# absolute: a console script calls main from the package, where a relative path would name a module
USAGE = ("usage: python -m fusionlab.report runs=<dir> [out=<dir>] [publish=docs/results.md title=\"...\"] "
         "[baseline=<fusion or \"key=value\">]\n   or: python -m fusionlab.report runs=[<dir>,<dir>] out=<dir>   (keys: conf/report.yaml)")


def _hydra_value(value: str) -> str:
    """``value`` as Hydra's override grammar reads it back: bare where it can be, else quoted."""
    try:
        if OverridesParser.create().parse_override(f"key={value}").value() == value:
            return value
    except HydraException:
        pass
    return '"' + re.sub(r'(\\*)("|$)', lambda m: m.group(1) * 2 + ("\\" + m.group(2) if m.group(2) else ""),
                        value) + '"'


def report_command(roots: list[Path], out: str | Path | None, publish_to: str | Path, title: str | None,
            baseline: str) -> str:
    """The report command with these keys, as one shell line (what a published section says wrote it)."""
    runs = _hydra_value(str(roots[0])) if len(roots) == 1 else f"[{','.join(_hydra_value(str(r)) for r in roots)}]"
    keys = {"runs": runs, "out": out and _hydra_value(str(out)), "publish": _hydra_value(str(publish_to)),
            "title": title and _hydra_value(title), "baseline": baseline != BASELINE and _hydra_value(baseline)}
    return " ".join(["python -m fusionlab.report", *(shlex.quote(f"{k}={v}") for k, v in keys.items() if v)])


def report(root: str | Path | list[str | Path], out: str | Path | None = None,
           publish_to: str | Path | None = None, title: str | None = None, baseline: str = BASELINE) -> Path:
    """Write the report of the runs under ``root`` (a folder or a list of folders) into ``out`` (default
    ``<root>/report``, the first folder's); with ``publish_to``, also as the section ``title`` of that file
    (``docs/results.md``), with the runs' commit, device and commands."""
    roots = [Path(r) for r in root] if isinstance(root, list) else [Path(root)]
    written_by = report_command(roots, out, publish_to, title, baseline) if publish_to else None
    out = Path(out) if out else roots[0] / "report"
    out.mkdir(parents=True, exist_ok=True)
    cells = collect(roots)
    tables = build_tables(cells, baseline)
    text = markdown(cells, tables) + "\n".join(published_markdown(against_published(cells))) + "\n"
    (out / "report.md").write_text(text + "\n".join(draw_report_figures(cells, tables, out)) + "\n")
    if publish_to:
        title = title or " + ".join(r.name for r in roots)
        publish(publish_to, title, section(title, text, provenance(cells), written_by))
    (out / "comparison.tex").write_text(latex(cells, tables))
    write_csv(cells, out / "results.csv")
    write_runs(cells, out)
    return out


@hydra.main(version_base="1.3", config_path=CONF, config_name="report")
def main(cfg: DictConfig) -> None:
    """Write the report of ``cfg.runs``; print its Markdown and where it lies."""
    if OmegaConf.is_missing(cfg, "runs"):
        raise SystemExit(f"fusionlab.report: missing runs=<multirun dir> (or runs=[<dir>,<dir>])\n{USAGE}")
    runs = OmegaConf.to_container(cfg.runs) if OmegaConf.is_list(cfg.runs) else [cfg.runs]
    if not runs:
        raise SystemExit(f"fusionlab.report: runs=[] names no directory\n{USAGE}")
    if len(runs) > 1 and cfg.out is None:
        raise SystemExit(f"fusionlab.report: missing out=<dir>: several runs directories need one place to "
                         f"write the report\n{USAGE}")
    out = report([str(r) for r in runs], cfg.out, cfg.publish, cfg.title and str(cfg.title), str(cfg.baseline))
    if cfg.wandb:
        upload_report(out, str(cfg.wandb), " + ".join(Path(str(r)).name for r in runs))
    print((out / "report.md").read_text())
    print(f"report: {out}")


# fusionlab.report(runs=...) from Python: this module, called, is fusionlab.api.reporting.report
make_callable(__name__, "fusionlab.api.reporting:report")


if __name__ == "__main__":
    main()
