"""Labels from the training split only, checkpoints that describe themselves, and bad input that is
refused early with a message naming what is wrong (or flagged in the output)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import fusionlab.train
from fusionlab.predict import predict
from fusionlab.sharing.loading import load_assembly
from fusionlab.train import assemble, run
from tests.conftest import compose_config

ROOT = Path(__file__).resolve().parents[1]


def _conll(path: Path, sentences: list[list[tuple[str, str]]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"IMGID:{n}\n" + "".join(f"{w}\t{t}\n" for w, t in words) + "\n"
                            for n, words in enumerate(sentences)))


def _real(tiny_overrides: list[str]) -> list[str]:
    """The tiny overrides without the synthetic benchmark's sizes (for a dataset=... run)."""
    return [o for o in tiny_overrides if not o.startswith("dataset.")]


def _twitter(root: Path, test: list[list[tuple[str, str]]] | None = None) -> list[str]:
    """A tiny Twitter-2015 text release (no images) under ``root``; its overrides for a text_only run."""
    train = [[("Kalo", "B-PER"), ("visits", "O"), ("Rome", "B-LOC")], [("Miren", "B-PER"), ("smiles", "O")]]
    _conll(root / "twitter2015" / "train.txt", train)
    _conll(root / "twitter2015" / "valid.txt", train)
    _conll(root / "twitter2015" / "test.txt", train if test is None else test)
    return [f"data_root={root}", "dataset=twitter2015", "dataset.layout=flat", "fusion=text_only"]


def test_the_label_vocabulary_is_fitted_on_train_and_unseen_labels_are_scored_as_misses(tiny_overrides, tmp_path):
    test = [[("Kalo", "B-PER"), ("at", "O"), ("Acme", "B-ORG"), ("Corp", "I-ORG")], [("Rome", "B-LOC")]]
    parts = assemble(compose_config(_real(tiny_overrides) + _twitter(tmp_path / "data", test)))
    assert parts.task.data.types == ["LOC", "PER"] and "B-ORG" not in parts.task.data.tags
    assert parts.datamodule.stats["unseen_labels"] == {"test": {"ORG": 1}}
    metric = parts.task.output.metric()
    batch = next(iter(parts.datamodule.test_dataloader()))
    gold_ids = [[parts.task.data.tags.index(t) if t in parts.task.data.tags else 0 for t in e.tags] for e in batch["examples"]]
    parts.task.output.score(metric, gold_ids, batch)  # every seen entity right: the unseen one is still missed
    scores = metric.compute()
    assert scores["precision"] == 1.0 and scores["recall"] == pytest.approx(2 / 3)


def test_a_checkpoint_describes_itself_and_predict_reads_no_split_and_fills_no_cache(tiny_overrides, tmp_path):
    results = run(compose_config(tiny_overrides + ["fusion=concat", "task=mner"]))  # frozen vision: cached features
    checkpoint = tmp_path / "run" / "checkpoints" / "best.ckpt"
    described = torch.load(checkpoint, weights_only=True)["fusionlab"]
    assert described["labels"] == results["labels"] == {"types": ["LOC", "MISC", "ORG", "PER"]}
    assert described["config"]["fusion"]["name"] == "concat"
    image = tmp_path / "photo.png"
    shutil.copy(next((tmp_path / "cache" / "synthetic").rglob("images/test_0.png")), image)
    shutil.rmtree(tmp_path / "cache")  # the dataset and the feature cache are gone
    (row,) = predict(load_assembly(checkpoint), [{"text": "look at Kalo Miren", "image": str(image)}])
    assert row["image"] == str(image) and all(e["type"] in described["labels"]["types"] for e in row["entities"])
    assert not (tmp_path / "cache").exists()


def test_predict_refuses_bad_inputs_and_flags_a_truncated_sentence(tiny_overrides, tmp_path):
    run(compose_config(tiny_overrides + ["fusion=text_only", "task=mre", "data.max_length=16"]))
    parts = load_assembly(tmp_path / "run" / "checkpoints" / "best.ckpt")
    with pytest.raises(ValueError, match="input 1: an input needs a 'text' with at least one word"):
        predict(parts, [{"text": "   ", "head": "0:1", "tail": "1:2"}])
    with pytest.raises(FileNotFoundError, match="input 2: image .*nowhere.png does not exist"):
        predict(parts, [{"text": "a b", "head": "0:1", "tail": "1:2"},
                        {"text": "a b", "image": str(tmp_path / "nowhere.png"), "head": "0:1", "tail": "1:2"}])
    with pytest.raises(ValueError, match=r"input 1: tail 1:5 is outside the sentence's 2 words"):
        predict(parts, [{"text": "a b", "head": "0:1", "tail": "1:5"}])
    long = " ".join(["word"] * 40)
    (short_row, long_row) = predict(parts, [{"text": "Kalo met Miren", "head": "0:1", "tail": "2:3"},
                                            {"text": long, "head": "0:1", "tail": "1:2"}])
    assert "truncated" not in short_row and long_row["truncated"] is True and 0 < long_row["words_read"] < 44


@pytest.mark.parametrize("content", ["", "\n\n"])
def test_an_empty_split_fails_at_setup_naming_its_file(tiny_overrides, tmp_path, content):
    overrides = _real(tiny_overrides) + _twitter(tmp_path / "data")
    (tmp_path / "data" / "twitter2015" / "valid.txt").write_text(content)
    with pytest.raises(ValueError, match=r"twitter2015 val split: .*valid.txt holds no examples"):
        run(compose_config(overrides))
    assert not (tmp_path / "run" / "results.json").exists()


def test_mre_markers_cut_off_by_max_length_are_counted_and_warned(tiny_overrides, tmp_path, caplog):
    words = ["w"] * 30
    lines = [str({"token": words, "h": {"name": "w", "pos": [0, 1]}, "t": {"name": "w", "pos": [tail, tail + 1]},
                  "img_id": "x.jpg", "relation": "/per/loc"}) for tail in (2, 25)]
    root = tmp_path / "data" / "mnre"
    root.mkdir(parents=True)
    for split in ("train", "val", "test"):
        (root / f"mnre_{split}.txt").write_text("\n".join(lines) + "\n")
    overrides = _real(tiny_overrides) + [f"data_root={tmp_path}/data", "dataset=mnre", "dataset.layout=flat",
                                         "task=mre", "fusion=text_only",
                                  "data.max_length=16"]
    parts = assemble(compose_config(overrides))
    assert [parts.datamodule.stats["splits"][s]["targets_cut"] for s in ("train", "val", "test")] == [1, 1, 1]
    assert "cut off what the mre head reads" in caplog.text


@pytest.mark.parametrize("override, message", [
    ("trainer.max_epochs=0", r"trainer.max_epochs=0: must be at least 1 \(or set trainer.max_steps\)"),
    ("data.batch_size=0", "data.batch_size=0: must be at least 1"),
    ("data.max_length=3", "data.max_length=3: must be at least 8"),
    ("data.sample_ratio=0", r"data.sample_ratio=0: must be in \(0, 1\]"),
    ("optim.head_lr=-1", "optim.head_lr=-1: must be positive, or 0 to keep the task heads at their initialisation"),
    ("resume=maybe", "resume=maybe: expected one of"),
])
def test_nonsense_settings_get_a_message_before_anything_is_built(tiny_overrides, tmp_path, override, message):
    with pytest.raises(ValueError, match=message):
        run(compose_config(tiny_overrides + ["fusion=text_only", override]))
    assert not (tmp_path / "cache").exists()


def test_a_ddp_sweep_under_the_local_launcher_is_refused_before_training(tmp_path):
    command = [sys.executable, "-m", "fusionlab.train", "-m", "encoder=tiny", "fusion=text_only", "trainer=ddp_cpu",
               "seed=1,2", f"hydra.sweep.dir={tmp_path}/multirun", f"cache_root={tmp_path}/cache"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode != 0
    assert "would re-run the whole sweep in every DDP child" in done.stderr + done.stdout
    assert not list(tmp_path.rglob("results.json")) and not (tmp_path / "cache").exists()


def test_a_run_records_its_code_version_and_no_run_leaves_a_resume_point(tiny_overrides, tmp_path, monkeypatch):
    loaded = fusionlab.train.CODE
    assert loaded["commit"] is None or len(loaded["commit"]) == 40
    # what the process loaded, not the checkout when the run starts (a sweep's checkout may have moved on)
    monkeypatch.setattr(fusionlab.train, "CODE", {"commit": "0" * 40, "dirty": False})
    results = run(compose_config(tiny_overrides + ["fusion=text_only"]))
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["run"]["code"] == {"commit": "0" * 40, "dirty": False}
    assert saved["run"]["name"] == "run" and results["run"]["resumed_from"] is None
    assert not (tmp_path / "run" / "checkpoints" / "last.ckpt").exists()
