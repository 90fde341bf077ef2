"""A truncated or empty record is named, with what to do, and never blocks a re-run or the report."""

from __future__ import annotations

import json
import logging

import pytest

from fusionlab.analysis.cells import collect
from fusionlab.evaluate import evaluate
from fusionlab.sharing.loading import load_assembly
from fusionlab.train import run
from tests.conftest import compose_config
from tests.test_run_records import _fake


def test_a_corrupt_resume_point_is_named_and_the_run_starts_afresh(tmp_path, tiny_overrides, caplog):
    common = tiny_overrides + ["fusion=text_only", "checkpoint_every_n_steps=1"]
    with pytest.raises(RuntimeError, match="interrupted after step 2"):
        run(compose_config(common + ["+callbacks.interrupt={_target_: tests.interrupt.InterruptAt, step: 2}"]))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        again = run(compose_config(common))
    assert f"{last} is corrupt" in caplog.text and "starting afresh" in caplog.text
    assert again["run"]["resumed_from"] is None and (tmp_path / "run" / "results.json").is_file()


def test_corrupt_results_and_checkpoints_are_named_and_the_rerun_trains_again(tmp_path, tiny_overrides, caplog):
    overrides = tiny_overrides + ["fusion=text_only"]
    run(compose_config(overrides))
    folder = tmp_path / "run"
    best = folder / "checkpoints" / "best.ckpt"
    best.write_bytes(b"")
    with pytest.raises(ValueError, match=f"{best} is corrupt .*train the run again"):
        load_assembly(best)
    (folder / "results.json").write_text('{"fusion": "text_on')
    with pytest.raises(ValueError, match=f"{folder / 'results.json'} is corrupt .*re-run the run's training command"):
        evaluate(folder, best, "clean", None)
    with caplog.at_level(logging.WARNING):
        again = run(compose_config(overrides))
    assert f"{folder / 'results.json'} is corrupt" in caplog.text and "treated as unfinished" in caplog.text
    assert json.loads((folder / "results.json").read_text()) == again


def test_the_report_leaves_out_corrupt_records_and_lists_them(tmp_path, caplog):
    _fake(tmp_path, "kept", "concat", 1, 0.5, lr=1e-3)
    (tmp_path / "kept" / "test_predictions.jsonl").write_text('{"words": ["a"], "gold"')
    for name, file in (("empty", "results.json"), ("killed", "run.json"), ("failed", "failed.json")):
        (tmp_path / name).mkdir()
        (tmp_path / name / file).write_text("")
    with caplog.at_level(logging.WARNING):
        cells = collect(tmp_path)
    (cell,) = cells.values()
    assert cell.scores() == {1: 0.5} and cell.unfinished == cell.failed == 0 and cell.counts == {}
    assert "left out 4 corrupt file(s)" in caplog.text
    assert all(str(tmp_path / name) in caplog.text for name in ("empty/results.json", "killed/run.json",
                                                                 "failed/failed.json", "kept/test_predictions.jsonl"))
