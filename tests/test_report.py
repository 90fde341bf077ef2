"""The comparison workflow: a sweep with a failing run, the report's tables and plots, the report command
(python -m fusionlab.report runs=... publish=... title=...), the notebook."""

from __future__ import annotations

import csv
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from fusionlab.analysis.cells import collect
from fusionlab.analysis.comparison import paired_test
from fusionlab.report import main, report
from tests.test_cli import run_main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["encoder=tiny", "logger=none", "trainer.enable_progress_bar=false", "trainer.max_epochs=1",
        "dataset.synthetic.train=32", "dataset.synthetic.val=16", "dataset.synthetic.test=16", "data.batch_size=16"]


def _fake_run(root: Path, fusion: str, seed: int, f1: float, groups: dict | None = None,
              method: dict | None = None, release: str = "synthetic v1", ratio: float = 1.0) -> Path:
    folder = root / f"{fusion}_s{seed}" if release == "synthetic v1" else root / f"{fusion}_s{seed}_{release[-2:]}"
    folder = folder.with_name(folder.name + (f"_r{ratio:g}" if ratio != 1.0 else ""))
    folder.mkdir(parents=True)
    record = {"fusion": fusion, "task": "mner", "dataset": "synthetic", "seed": seed, "monitor": "f1",
              "data": {"release": release},
              "metrics": {"val": {"f1": f1}, "test": {"f1": f1, "precision": f1}, "test_groups": groups or {}},
              "params": {"total": 2_000_000, "trainable": 1_000_000},
              "timing": {"train_seconds_per_epoch": [10.0, 12.0], "eval_seconds": 1.0, "train_samples_per_second": 50.0},
              "peak_memory_mb": 900.0, "config": {"data": {"sample_ratio": ratio}}, **({"method": method} if method else {})}
    (folder / "results.json").write_text(json.dumps(record))
    return folder


def test_report_tables_mark_the_best_and_the_significant(tmp_path):
    for seed, base in zip((1, 2, 3), (0.70, 0.72, 0.71)):
        _fake_run(tmp_path, "text_only", seed, base)
        _fake_run(tmp_path, "better", seed, base + 0.10 + 0.001 * seed)  # consistently ~10 points better
        _fake_run(tmp_path, "same", seed, base + (0.01, -0.01, 0.0)[seed - 1])
    cells = collect(tmp_path)
    column = ("synthetic", "mner", 1.0)
    test = paired_test(cells["better", column], cells["text_only", column])
    assert test["pairs"] == 3 and test["delta"] == pytest.approx(0.102) and test["p"] < 0.001
    assert paired_test(cells["same", column], cells["text_only", column])["p"] > 0.5
    out = report(tmp_path)
    table = (out / "report.md").read_text()
    assert "| better | **81.2 ± 1.1†** |" in table  # best in bold, significant
    assert "| same | 71.0 ± 0.0 |" in table and "| text_only | 71.0 ± 1.0 |" in table
    assert "| better | synthetic/mner | 2.0 | 1.0 | 11.0 | 1.0 | 50.0 | 900 |" in table  # efficiency
    assert r"\textbf{81.2 $\pm$ 1.1$^\dagger$}" in (out / "comparison.tex").read_text()
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert {(r["fusion"], r["metric"], r["seeds"]) for r in rows} >= {("better", "f1", "3"), ("same", "precision", "3")}
    assert (out / "scores.png").stat().st_size > 0 and not (out / "low_resource.png").exists()


def test_report_averages_mases_allocation_over_seeds(tmp_path):
    for seed, z in ((1, [0.3, 0.7]), (2, [0.5, 0.5])):
        _fake_run(tmp_path, "mase", seed, 0.8, method={"modalities": ["text", "image"],
                                                       "z_trajectory": [[0.5, 0.5], z]})
    out = report(tmp_path)
    table = (out / "report.md").read_text()
    assert "| mase | synthetic/mner | image | 0.50 → 0.60 |" in table
    assert (out / "z_mase_synthetic_mner.png").stat().st_size > 0


def test_the_command_reports_several_sweeps_and_publishes_what_wrote_the_section(tmp_path, monkeypatch, capsys):
    for seed in (1, 2):
        _fake_run(tmp_path / "sweep_a", "text_only", seed, 0.70 + 0.01 * seed)
        _fake_run(tmp_path / "sweep_b", "concat", seed, 0.80 + 0.02 * seed)
    monkeypatch.chdir(tmp_path)
    title = 'Two sweeps (tiny, 2 seeds): "a" + b'
    run_main(main, "runs=[sweep_a,sweep_b]", "out=both", "publish=results.md", f"title={json.dumps(title)}",
             "baseline=concat")
    printed = capsys.readouterr().out
    assert printed.endswith("report: both\n") and "## Paired tests against concat" in printed
    assert printed.startswith((tmp_path / "both" / "report.md").read_text())
    published = (tmp_path / "results.md").read_text()
    assert f"## {title}\n" in published and "| concat |" in published and "| text_only |" in published
    (command,) = [line.split("`")[1] for line in published.splitlines() if line.startswith("Written by `")]
    words = shlex.split(command)
    assert words[:3] == ["python", "-m", "fusionlab.report"]
    run_main(main, *words[3:])  # the written command, run again, writes the same section
    assert capsys.readouterr().out == printed and (tmp_path / "results.md").read_text() == published
    assert sorted(p.name for p in tmp_path.iterdir()) == ["both", "results.md", "sweep_a", "sweep_b"]  # no Hydra folder


def _sweep(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "fusionlab.train", "-m", *TINY, f"cache_root={tmp_path}/cache", *overrides]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                          timeout=600)


def test_a_sweep_survives_a_failed_run_and_the_notebook_shows_its_report(tmp_path):
    nbclient, nbformat = pytest.importorskip("nbclient"), pytest.importorskip("nbformat")
    sweep = tmp_path / "multirun"
    # the first job of each seed fails before training (a text length with no room for words); the sweep goes on
    failing = _sweep(tmp_path, f"hydra.sweep.dir={sweep}/concat", "hydra.sweep.subdir=${hydra.job.num}",
                     "fusion=concat", "data.max_length=4,32", "seed=1,2")
    assert failing.returncode == 0, failing.stderr[-2000:]
    baseline = _sweep(tmp_path, f"hydra.sweep.dir={sweep}/text_only", "fusion=text_only", "seed=1,2")
    assert baseline.returncode == 0, baseline.stderr[-2000:]
    failed = sorted(sweep.rglob("failed.json"))
    assert len(failed) == 2 and "data.max_length=4: must be at least 8" in json.loads(failed[0].read_text())["error"]

    notebook = nbformat.read(ROOT / "notebooks" / "compare_fusions.ipynb", as_version=4)
    os.environ["FUSIONLAB_RUNS"] = str(sweep)
    try:
        nbclient.NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    finally:
        del os.environ["FUSIONLAB_RUNS"]
    shown = "".join(output.get("data", {}).get("text/markdown", "") for cell in notebook.cells
                    for output in cell.get("outputs", []))
    assert "| text_only | 2 ok, 0 failed |" in shown  # the two concat settings are rows of their own
    assert "| concat [data.max_length=32] | 2 ok, 0 failed |" in shown
    assert "| concat [data.max_length=4] | 0 ok, 2 failed |" in shown
    assert (sweep / "report" / "groups.png").exists()


def test_published_numbers_stand_beside_our_mean_and_spread_and_a_single_run_shows_no_spread(tmp_path):
    from fusionlab.analysis.published import against_published, published_markdown
    for seed, f1 in zip((1, 2, 3), (0.69, 0.70, 0.71)):
        _fake_run(tmp_path, "text_only", seed, f1)
    _fake_run(tmp_path, "concat", 1, 0.75)
    rows = [{"method": method, "fusion": fusion, "dataset": "synthetic", "task": "mner", "metric": "f1",
             "value": value, "source": "Table 1", "encoders": "BERT", "release": "synthetic v1"}
            for method, fusion, value in (("BERT-CRF", "text_only", 71.81), ("Concat-BERT", "concat", 70.0))]
    table = "\n".join(published_markdown(against_published(collect(tmp_path), rows)))
    assert "| text_only | synthetic/mner | f1 | 71.81 (BERT-CRF) | Table 1 | BERT | 70.00 ± 1.00 (3) | -1.81 | no |" in table
    assert "| concat | synthetic/mner | f1 | 70.00 (Concat-BERT) | Table 1 | BERT | 75.00 (1 run) | +5.00 | no |" in table


def test_a_published_number_is_compared_only_with_runs_on_its_release(tmp_path):
    from fusionlab.analysis.published import against_published, published_markdown
    for seed in (1, 2):
        _fake_run(tmp_path, "text_only", seed, 0.70, release="synthetic v2")
    rows = [{"method": "BERT-CRF", "fusion": "text_only", "dataset": "synthetic", "task": "mner", "metric": "f1",
             "value": 71.81, "source": "Table 1", "encoders": "BERT", "release": "synthetic v1"}]
    table = "\n".join(published_markdown(against_published(collect(tmp_path), rows)))
    assert ("| text_only | synthetic/mner [1] | f1 | 71.81 (BERT-CRF) | Table 1 | BERT | 70.00 ± 0.00 (2) | "
            "- (another release) | - |") in table
    assert "- [1] the paper's number: synthetic v1; the runs read: synthetic v2" in table


def test_runs_of_two_releases_are_never_pooled_and_each_cell_shows_its_release(tmp_path):
    for seed in (1, 2):
        _fake_run(tmp_path, "text_only", seed, 0.70)
        _fake_run(tmp_path, "text_only", seed, 0.60, release="synthetic v2")
    cells = collect(tmp_path)
    column = ("synthetic", "mner", 1.0)
    assert {key[0] for key in cells} == {"text_only [data.release=synthetic v1]", "text_only [data.release=synthetic v2]"}
    assert cells["text_only [data.release=synthetic v2]", column].scores() == {1: 0.60, 2: 0.60}
    text = (report(tmp_path) / "report.md").read_text()
    assert "| text_only [data.release=synthetic v1] | synthetic/mner | synthetic v1 |" in text


def test_publishing_a_section_again_replaces_it_where_it_stands(tmp_path):
    from fusionlab.analysis.results_doc import publish
    doc = tmp_path / "results.md"
    for title in ("A", "B", "C"):
        publish(doc, title, f"## {title}\n\nfirst {title}\n")
    publish(doc, "B", "## B\n\nsecond B\n")
    publish(doc, "D", "## D\n\nfirst D\n")
    text = doc.read_text()
    assert [line for line in text.splitlines() if line.startswith(("## ", "first", "second"))] == [
        "## A", "first A", "## B", "second B", "## C", "first C", "## D", "first D"]
