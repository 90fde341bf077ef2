"""python -m fusionlab.export: a finished run as a folder to share (weights, config, labels, model card), loaded
back to the same scores and predictions without running anything it holds, traced to TorchScript and ONNX
programs that reproduce the model, and pushed to the Hub (offline: a clear error, the folder kept)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import onnxruntime
import pytest
import torch

from fusionlab import export
from fusionlab.fusion import concat
from fusionlab.fusion.concat import Concat
from fusionlab.predict import predict
from fusionlab.sharing.folder import export_run, load_exported
from fusionlab.sharing.loading import load_assembly
from fusionlab.sharing.programs import ExportError, example_batches
from fusionlab.train import run
from tests.conftest import compose_config
from tests.test_cli import run_main

SIZES = ["encoder=tiny", "logger=none", "dataset.synthetic.train=48", "dataset.synthetic.val=16",
         "dataset.synthetic.test=16", "data.batch_size=16", "trainer.max_epochs=1", "trainer.enable_progress_bar=false"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Tiny runs under one parent: concat/mner seed 1, a sibling seed 2 of its config and a seed 3 of another
    learning rate (records derived from seed 1's), and text_only/mre."""
    root = tmp_path_factory.mktemp("export")
    for name, fusion, task in (("concat_s1", "concat", "mner"), ("text_only_mre", "text_only", "mre")):
        run(compose_config([*SIZES, f"fusion={fusion}", f"task={task}", f"output_dir={root}/runs/{name}",
                            f"cache_root={root}/cache"]))
    results = json.loads((root / "runs" / "concat_s1" / "results.json").read_text())
    for seed, f1, lr in ((2, results["metrics"]["test"]["f1"] + 0.25, None), (3, 0.9, 0.5)):
        sibling = json.loads(json.dumps(results))
        sibling["seed"] = sibling["config"]["seed"] = seed
        sibling["metrics"]["test"]["f1"] = f1
        sibling["config"]["optim"]["lr"] = lr or sibling["config"]["optim"]["lr"]
        (root / "runs" / f"concat_s{seed}").mkdir()
        (root / "runs" / f"concat_s{seed}" / "results.json").write_text(json.dumps(sibling))
    return root


def scores(parts, batch) -> list[torch.Tensor]:
    with torch.no_grad():
        outputs = parts.model.head(parts.model.method(batch).states, batch)
    return list(outputs) if isinstance(outputs, tuple) else [outputs]


def test_an_exported_folder_gives_the_checkpoints_scores_and_runs_no_code(runs, tmp_path):
    run_dir = runs / "runs" / "concat_s1"
    folder = export_run(run_dir, tmp_path / "shared")
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "fusionlab.json", "labels.json",
                                                       "model.safetensors"]
    assert json.loads((folder / "labels.json").read_text()) == json.loads((run_dir / "results.json").read_text())[
        "labels"]
    exported, trained = load_assembly(folder), load_assembly(run_dir)
    batch = example_batches(trained, tmp_path)[1]  # with and without images
    assert all(torch.equal(a, b) for a, b in zip(scores(exported, batch), scores(trained, batch), strict=True))
    image = tmp_path / "example_1.png"
    inputs = [{"text": "Kalo Miren visits the old harbour", "image": str(image)}, {"text": "a quiet day"}]
    assert predict(exported, inputs) == predict(trained, inputs)
    config = json.loads((folder / "config.json").read_text())
    config["fusion"]["module"]["_target_"] = "os.system"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"config.json: .*_target_='os.system'.* never chooses what is instantiated"):
        load_exported(folder)


def test_the_card_names_method_data_metrics_over_seeds_and_commit(runs, tmp_path):
    run_dir = runs / "runs" / "concat_s1"
    card = (export_run(run_dir, tmp_path / "shared") / "README.md").read_text()
    results = json.loads((run_dir / "results.json").read_text())
    assert card.startswith("---\n") and "library_name: fusionlab" in card
    assert f"): {' '.join(concat.__doc__.split()[:12])}" in card  # the method and where it comes from
    assert f"release: {results['data']['release']}" in card
    assert all(f"SHA-256 `{file['sha256']}`" in card for file in results["data"]["files"].values())
    assert f"commit `{results['run']['code']['commit']}`" in card
    f1 = results["metrics"]["test"]["f1"]
    seeds = [f1, f1 + 0.25]  # seed 3 trained with another learning rate: not a seed of this config
    assert "mean ± std over seeds [1, 2] |" in card
    assert (f"| f1 | {f1:.4f} | {statistics.fmean(seeds):.4f} ± {statistics.stdev(seeds):.4f} (n=2) |"
            in card.splitlines())


def program_outputs(folder: Path, inputs: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """What an exported program gives, run as its users would (onnxruntime, torch.jit.load)."""
    if (folder / "model.onnx").is_file():
        session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        return [torch.from_numpy(o) for o in session.run(None, {k: v.numpy() for k, v in inputs.items()})]
    with torch.no_grad():
        return [torch.jit.load(str(folder / "model.pt"))(*inputs.values())]


def assert_program_reproduces_the_model(folder: Path, images: Path) -> dict:
    program = json.loads((folder / "fusionlab.json").read_text())["program"]
    parts = load_assembly(folder)
    batch = example_batches(parts, images)[0]
    inputs = {i["name"]: batch[i["name"]] for i in program["inputs"]}
    for have, want in zip(program_outputs(folder, inputs), scores(parts, batch), strict=True):
        torch.testing.assert_close(have, want, atol=1e-4, rtol=1e-4)
    assert f"## {program['format']} program (`{program['file']}`)" in (folder / "README.md").read_text()
    return inputs


def test_concat_exports_to_onnx_with_its_image_input(runs, tmp_path):
    folder = export_run(runs / "runs" / "concat_s1", tmp_path / "shared", to="onnx")
    inputs = assert_program_reproduces_the_model(folder, tmp_path)
    assert list(inputs) == ["input_ids", "attention_mask", "image", "image_mask", "word_index"]
    assert inputs["image_mask"].tolist() == [True, False]  # the traced batch has an image and a missing one


def test_a_method_reading_more_than_tensors_is_refused_and_leaves_no_folder(runs, tmp_path, monkeypatch):
    fuse = Concat.fuse

    def fuse_reading_the_words(self, batch):
        assert batch["examples"]  # as MASE's scene graph and MuSE's word captions read them
        return fuse(self, batch)

    monkeypatch.setattr(Concat, "fuse", fuse_reading_the_words)
    with pytest.raises(ExportError, match=r"fusion concat reads batch\['examples'\] \(a ExampleBatch\)"):
        export_run(runs / "runs" / "concat_s1", tmp_path / "shared", to="torchscript")
    assert list(tmp_path.iterdir()) == []


def test_the_command_exports_text_only_to_torchscript_and_fails_clearly_to_push_offline(runs, tmp_path):
    out = tmp_path / "shared"
    done = subprocess.run([sys.executable, "-m", "fusionlab.export", f"run_dir={runs / 'runs' / 'text_only_mre'}",
                           "to=torchscript", f"out={out}", "push=true", "repo_id=someone/fusionlab-mre"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    assert done.returncode == 1 and done.stdout == f"{out}\n"  # stdout: the folder only
    assert "someone/fusionlab-mre (HF_HUB_OFFLINE is set)" in done.stderr
    assert f"hf upload someone/fusionlab-mre {out} ." in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared"]  # no Hydra folder, no log
    inputs = assert_program_reproduces_the_model(out, tmp_path)
    assert list(inputs) == ["input_ids", "attention_mask", "head_pos", "tail_pos"]  # the entity markers' positions


def test_the_command_names_a_missing_or_wrong_key_and_shows_the_usage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for arguments, message in (([], r"missing run_dir=<run>"),
                               (["run_dir=a_run", "to=pdf"], r"to=pdf: expected one of hub, torchscript, onnx"),
                               (["run_dir=a_run", "push=true"], r"push=true needs repo_id=<user or org>/<name>")):
        with pytest.raises(SystemExit, match=message) as exit:
            run_main(export.main, *arguments)
        assert export.USAGE in str(exit.value.code)
    assert list(tmp_path.iterdir()) == []
