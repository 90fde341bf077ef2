"""Significance done properly: bootstrap intervals over test sentences, the baseline as a report option,
and the Benjamini-Hochberg correction across the rows compared with it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from fusionlab.analysis.bootstrap import paired_difference_interval, score, seed_mean_interval, sentence_counts
from fusionlab.analysis.cells import collect
from fusionlab.analysis.comparison import build_tables
from fusionlab.report import main, report
from tests.test_cli import run_main


def test_sentence_counts_give_each_tasks_score_as_its_metric_does():
    mner = [{"gold": ["B-PER", "I-PER", "O"], "predicted": ["B-PER", "I-PER", "O"]},
            {"gold": ["B-LOC", "O", "I-ORG"], "predicted": ["O", "O", "B-ORG"]}]  # the I-ORG opens an entity
    counts = sentence_counts("mner", "f1", mner)
    assert counts.tolist() == [[1, 1, 1], [1, 1, 2]] and score(counts, "f1") == pytest.approx(4 / 5)
    mre = [{"gold": "None", "predicted": "/per/loc"}, {"gold": "/per/loc", "predicted": "/per/loc"},
           {"gold": "NA", "predicted": "None"}]
    assert sentence_counts("mre", "f1", mre).tolist() == [[0, 1, 0], [1, 1, 1], [0, 0, 0]]
    joint = [{"gold": [[0, 1, "born_in", 3, 4]], "predicted": [[0, 1, "born_in", 3, 4], [0, 1, "lives_in", 3, 4]]}]
    assert sentence_counts("joint", "f1", joint).tolist() == [[1, 2, 1]]
    msa = [{"gold": "positive", "predicted": "positive"}, {"gold": "neutral", "predicted": "negative"}]
    assert score(sentence_counts("msa", "accuracy", msa), "accuracy") == 0.5


def test_the_bootstrap_interval_holds_the_seeds_mean_and_narrows_with_more_sentences():
    rng = np.random.default_rng(1)

    def seeds(sentences):
        return [np.stack([rng.random(sentences) < 0.7, np.ones(sentences), np.ones(sentences)], 1).astype(float)
                for _ in range(3)]

    small, large = seeds(100), seeds(2000)
    for runs in (small, large):
        low, high = seed_mean_interval(runs, "accuracy")
        assert low <= np.mean([score(r, "accuracy") for r in runs]) <= high
    assert np.subtract(*seed_mean_interval(large, "accuracy")[::-1]) < np.subtract(*seed_mean_interval(small, "accuracy")[::-1]) / 2
    perfect = [np.ones((50, 3))] * 2
    assert seed_mean_interval(perfect, "f1") == (1.0, 1.0)
    assert seed_mean_interval([np.ones((50, 3)), np.ones((40, 3))], "f1") is None  # not the same sentences



def test_the_paired_interval_over_sentences_finds_a_small_consistent_gain_the_separate_intervals_miss():
    rng = np.random.default_rng(2)
    baseline = [rng.random(500) < 0.7 for _ in range(3)]
    better = [right | (rng.random(500) < 0.06) for right in baseline]  # a few sentences more right, none fewer
    as_counts = lambda runs: [np.stack([r, np.ones(500), np.ones(500)], 1).astype(float) for r in runs]  # noqa: E731
    ours, theirs = as_counts(better), as_counts(baseline)
    low, high = paired_difference_interval(ours, theirs, "accuracy")
    gain = np.mean([score(r, "accuracy") for r in ours]) - np.mean([score(r, "accuracy") for r in theirs])
    assert 0 < low <= gain <= high
    (our_low, _), (_, their_high) = seed_mean_interval(ours, "accuracy"), seed_mean_interval(theirs, "accuracy")
    assert our_low < their_high  # apart, each interval overlaps the other: the pairing is what shows the gain
    assert paired_difference_interval(theirs, theirs, "accuracy") == (0.0, 0.0)
    assert paired_difference_interval(ours, [np.ones((400, 3))], "accuracy") is None  # not the same sentences

def _run(root, fusion, seed, f1, config=None):
    folder = root / f"{fusion}_s{seed}{f'_{len(list(root.iterdir()))}' if config else ''}"
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({
        "fusion": fusion, "task": "msa", "dataset": "synthetic", "seed": seed, "monitor": "accuracy",
        "metrics": {"val": {}, "test": {"accuracy": f1}, "test_groups": {}}, "params": {"total": 1, "trainable": 1},
        "timing": {"train_seconds_per_epoch": [1.0], "eval_seconds": 1.0, "train_samples_per_second": 1.0},
        "peak_memory_mb": 1.0, "config": {"seed": seed, **(config or {})}}))


def test_the_baseline_is_an_option_and_p_values_are_corrected_across_the_rows_compared(tmp_path, capsys):
    scores = {"text_only": (0.60, 0.62, 0.61, 0.63), "concat": (0.70, 0.73, 0.70, 0.74),
              "hvpnet": (0.61, 0.64, 0.61, 0.62), "muse": (0.66, 0.66, 0.69, 0.70)}
    for fusion, values in scores.items():
        for seed, value in enumerate(values, start=1):
            _run(tmp_path, fusion, seed, value)
    cells = collect(tmp_path)
    column = ("synthetic", "msa", 1.0)
    tables = build_tables(cells)
    raw = [tables["tests"][f, column]["p"] for f in ("concat", "hvpnet", "muse")]
    expected = stats.false_discovery_control(raw)
    assert [tables["tests"][f, column]["p_adjusted"] for f in ("concat", "hvpnet", "muse")] == pytest.approx(expected)
    assert tables["tests"]["text_only", column] is None
    against_concat = build_tables(cells, baseline="concat")
    assert against_concat["tests"]["concat", column] is None and against_concat["tests"]["text_only", column]["delta"] < 0
    run_main(main, f"runs={tmp_path}", "baseline=concat")  # python -m fusionlab.report runs=... baseline=concat
    table = (tmp_path / "report" / "report.md").read_text()
    assert capsys.readouterr().out == f"{table}\nreport: {tmp_path / 'report'}\n"
    assert "## Paired tests against concat" in table and "| text_only | synthetic/msa | 4 |" in table


def test_a_setting_as_baseline_pairs_each_row_with_the_same_fusion_under_that_setting(tmp_path, capsys, caplog):
    scores = {("hvpnet", "32-true"): (0.70, 0.72, 0.71), ("hvpnet", "bf16-mixed"): (0.71, 0.72, 0.70),
              ("muse", "32-true"): (0.60, 0.65, 0.61), ("muse", "bf16-mixed"): (0.55, 0.60, 0.57)}
    for (fusion, precision), values in scores.items():
        for seed, value in enumerate(values, start=1):
            _run(tmp_path, fusion, seed, value, {"trainer": {"precision": precision}})
    for lr, precision, values in ((0.1, "32-true", (0.5, 0.6)), (0.1, "bf16-mixed", (0.6, 0.75)),
                                  (0.2, "32-true", (0.3, 0.45)), (0.2, "bf16-mixed", (0.4, 0.6))):
        for seed, value in enumerate(values, start=1):  # concat: two keys set its rows apart
            _run(tmp_path, "concat", seed, value, {"optim": {"lr": lr}, "trainer": {"precision": precision}})
    column = ("synthetic", "msa", 1.0)
    tables = build_tables(collect(tmp_path), baseline="trainer.precision=32-true")
    fp32, bf16 = "[trainer.precision=32-true]", "[trainer.precision=bf16-mixed]"
    assert tables["fusions"][2:] == [f"hvpnet {fp32}", f"muse {fp32}", "concat [optim.lr=0.1, trainer.precision=bf16-mixed]",
                                     "concat [optim.lr=0.2, trainer.precision=bf16-mixed]", f"hvpnet {bf16}", f"muse {bf16}"]
    assert tables["tests"]["concat [optim.lr=0.2, trainer.precision=bf16-mixed]", column]["delta"] == pytest.approx(0.125)
    for fusion in ("hvpnet", "muse"):
        assert tables["tests"][f"{fusion} {fp32}", column] is None
        test = tables["tests"][f"{fusion} {bf16}", column]
        differences = np.subtract(scores[fusion, "bf16-mixed"], scores[fusion, "32-true"])
        assert test["pairs"] == 3 and test["delta"] == pytest.approx(differences.mean())
        assert test["p"] == pytest.approx(stats.ttest_rel(scores[fusion, "bf16-mixed"], scores[fusion, "32-true"]).pvalue)
    with caplog.at_level("WARNING"):
        unmatched = build_tables(collect(tmp_path), baseline="optim.lr=0.3")  # no row has it
    assert all(test is None for test in unmatched["tests"].values())
    assert "the baseline optim.lr=0.3 names no row" in caplog.text
    concat_lr = build_tables(collect(tmp_path), baseline="optim.lr=0.1")["tests"]  # a key only concat's rows vary
    assert concat_lr["concat [optim.lr=0.2, trainer.precision=bf16-mixed]", column]["delta"] == pytest.approx(-0.175)
    assert concat_lr[f"muse {bf16}", column] is None
    run_main(main, f"runs={tmp_path}", 'baseline="trainer.precision=32-true"')
    table = (tmp_path / "report" / "report.md").read_text()
    assert "## Paired tests against the same row with trainer.precision=32-true" in table
    assert f"| muse {bf16} | synthetic/msa | 3 | -4.7 |" in table


def test_the_report_pairs_seeds_and_sentences_against_the_baseline(tmp_path):
    rng = np.random.default_rng(3)
    gold = ["positive"] * 200
    for fusion, seeds, extra in (("text_only", (1, 2), 0.0), ("concat", (1, 2, 3), 0.08)):
        for seed in seeds:
            right = np.random.default_rng(seed).random(200) < 0.6  # the same sentences right for the same seed
            right |= rng.random(200) < extra
            _run(tmp_path, fusion, seed, float(right.mean()))
            rows = [{"gold": g, "predicted": g if r else "negative"} for g, r in zip(gold, right)]
            (tmp_path / f"{fusion}_s{seed}" / "test_predictions.jsonl").write_text(
                "\n".join(json.dumps(row) for row in rows))
    cells = collect(tmp_path)
    column = ("synthetic", "msa", 1.0)
    test = build_tables(cells)["tests"]["concat", column]
    concat, text_only = cells["concat", column].scores(), cells["text_only", column].scores()
    assert test["pairs"] == 2 and test["delta"] == pytest.approx(np.mean([concat[s] - text_only[s] for s in (1, 2)]))
    low, high = test["interval"]
    assert 0 < low < test["delta"] < high  # the gain holds over resampled sentences
    table = (report(tmp_path) / "report.md").read_text()
    assert f"| concat | synthetic/msa | 2 | {100 * test['delta']:+.1f} | {test['p']:.3g} | " in table
    assert f"| [{100 * low:+.1f}, {100 * high:+.1f}] |" in table
