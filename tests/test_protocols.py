"""Each evaluation protocol changes the score exactly as its definition says, on hand-built predictions;
the report shows them beside the clean score and a run can record every epoch's test score for them."""

from __future__ import annotations

import json

import pytest

from fusionlab.analysis.protocols import (
    drop_last_batch,
    dump_score,
    first_epoch_selected,
    protocol_scores,
    selected_on_test,
    seqeval_strict,
    weighted_f1,
)
from fusionlab.report import report
from fusionlab.train import run
from tests.conftest import compose_config

RIGHT, WRONG = ({"gold": ["B-PER", "O"], "predicted": ["B-PER", "O"]}, {"gold": ["B-PER", "O"], "predicted": ["O", "O"]})


def test_drop_last_drops_exactly_the_last_partial_batch_and_changes_the_score_by_what_it_dropped():
    rows = [RIGHT] * 80 + [WRONG] * 17  # 97 sentences in batches of 40: the last 17 are never scored
    kept = drop_last_batch(rows, 40)
    assert len(kept) == 80 and kept == rows[:80] and drop_last_batch(rows[:80], 40) == rows[:80]
    assert dump_score("mner", "f1", rows) == pytest.approx(2 * 80 / (80 + 97))
    assert dump_score("mner", "f1", kept) == 1.0


def test_seqeval_strict_counts_no_entity_where_an_i_tag_opens_one():
    rows = [{"gold": ["I-LOC", "O", "B-PER"], "predicted": ["I-LOC", "O", "B-PER"]}]
    assert dump_score("mner", "f1", rows) == 1.0  # default mode: two entities, both right
    assert seqeval_strict(rows) == 1.0  # strict: only B-PER counts, and it is right
    rows = [{"gold": ["I-LOC", "O", "B-PER"], "predicted": ["O", "O", "B-PER"]}]
    assert dump_score("mner", "f1", rows) == pytest.approx(2 / 3) and seqeval_strict(rows) == 1.0


def test_weighted_f1_weights_each_labels_f1_by_its_gold_frequency():
    rows = ([{"gold": "positive", "predicted": "positive"}] * 3 + [{"gold": "negative", "predicted": "positive"}])
    # positive: P 3/4, R 1, F1 6/7 with weight 3/4; negative: F1 0 with weight 1/4
    assert weighted_f1(rows) == pytest.approx(0.75 * 6 / 7)


def _record(val, test, task="mner"):
    return {"task": task, "monitor": "f1", "metrics": {"test": {"f1": 0.5}},
            "val_history": [{"epoch": e, "metrics": {"f1": v}} for e, v in enumerate(val)],
            "test_history": [{"epoch": e, "metrics": {"f1": t}} for e, t in enumerate(test)]}


def test_test_selection_picks_the_best_test_epoch_and_the_first_epoch_rule_skips_the_early_ones():
    record = _record(val=[0.9, 0.5, 0.7, 0.6], test=[0.4, 0.8, 0.6, 0.7])
    assert selected_on_test(record) == 0.8  # PMEI's code: the best test score over epochs
    assert first_epoch_selected(record) == 0.6  # mner: from epoch 3 (1-based), val 0.7 at index 2
    mre = _record(val=[0.9, 0.5, 0.7, 0.6], test=[0.4, 0.8, 0.6, 0.7], task="mre")
    assert first_epoch_selected(mre) == 0.4  # mre: the RE script evaluates from epoch 1, val 0.9
    assert first_epoch_selected(_record(val=[0.9], test=[], task="mre")) is None
    assert first_epoch_selected(_record(val=[0.9], test=[0.4], task="msa")) is None  # HVPNeT has no msa script
    assert protocol_scores(record, None) == {"clean": 0.5, "reference_pmei": 0.8, "reference_hvpnet": 0.6}


@pytest.mark.parametrize("task, expected", [("mner", 0.7), ("mre", 0.3)])
def test_hvpnet_selection_keeps_the_later_of_equal_validation_epochs(task, expected):
    """The reference keeps a new best on ``>=``: of equal validation scores, the later epoch is tested."""
    record = _record(val=[0.8, 0.5, 0.6, 0.6], test=[0.3, 0.2, 0.5, 0.7], task=task)
    assert first_epoch_selected(record) == expected  # mner from epoch 3: 0.6 twice, the later; mre: epoch 1's 0.8
    tie = _record(val=[0.6, 0.6], test=[0.1, 0.9], task="mre")
    assert first_epoch_selected(tie) == 0.9


def test_a_run_records_every_epochs_test_score_and_the_report_shows_the_protocols(tmp_path, tiny_overrides):
    results = run(compose_config(tiny_overrides + ["fusion=text_only", "trainer.max_epochs=3",
                                                   "eval_protocol.test_every_epoch=true"]))
    history = results["test_history"]
    assert [h["epoch"] for h in history] == [0, 1, 2]
    assert history[results["best_epoch"]]["metrics"]["f1"] == pytest.approx(results["metrics"]["test"]["f1"], abs=1e-6)
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["test_history"] == history
    table = (report(tmp_path) / "report.md").read_text()
    assert "## Evaluation protocols" in table and "reference_pmei" in table and "seqeval_strict" in table
