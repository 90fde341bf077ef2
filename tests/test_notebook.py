"""notebooks/compare_fusions.ipynb runs as shipped: it trains its tiny sweep with fusionlab.train, reports it with
fusionlab.report (the tables as Markdown and DataFrames, every plot the report drew) and predicts with
fusionlab.load."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "compare_fusions.ipynb"


def test_the_notebook_trains_reports_and_predicts_as_shipped(tmp_path, monkeypatch):
    nbclient, nbformat = pytest.importorskip("nbclient"), pytest.importorskip("nbformat")
    monkeypatch.setenv("FUSIONLAB_NOTEBOOK_DIR", str(tmp_path))  # where it writes, instead of ../outputs/notebook
    monkeypatch.delenv("FUSIONLAB_RUNS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    shown = {kind: "".join(output.get("data", {}).get(kind, "") for output in outputs)
             for kind in ("text/markdown", "text/html", "text/plain")}

    runs = sorted(path.parent.name for path in (tmp_path / "runs").glob("*/results.json"))
    assert len(runs) == 4 and all(name.endswith("_encoder-tiny_trainer.max_epochs-1") for name in runs)
    assert "| text_only | 2 ok, 0 failed |" in shown["text/markdown"]  # the report's seeds table
    assert "| concat | 2 ok, 0 failed |" in shown["text/markdown"]
    assert shown["text/html"].count("<table") >= 3 and "test_f1" in shown["text/html"]  # runs, report.runs, results
    figures = sorted((tmp_path / "runs" / "report").glob("*.png"))
    images = [base64.b64decode(output["data"]["image/png"]) for output in outputs if "image/png" in output.get("data", {})]
    assert figures and images == [figure.read_bytes() for figure in figures]  # every plot, as written
    assert "Alice visits Paris with Bob" in shown["text/html"]  # the predictions' rows
