"""On the real Twitter-2015 text (../shared/data; skipped where it is absent): the dumped test predictions of a
run score with seqeval's default mode exactly as the run reported, over the gold entities seqeval counts."""

from __future__ import annotations

import json

import pytest
from seqeval.metrics import f1_score
from seqeval.metrics.sequence_labeling import get_entities

from fusionlab.train import run
from tests.conftest import compose_config, shared_file


def test_a_real_twitter2015_runs_entity_f1_equals_seqevals_default_mode_on_its_dumped_predictions(tmp_path):
    data = shared_file("twitter2015", "test.txt").parents[1]
    results = run(compose_config([
        "fusion=text_only", "dataset=twitter2015", "dataset.layout=flat", f"data_root={data}", "encoder.text.layers=2",
        "data.sample_ratio=0.1", "trainer.max_epochs=2", "optim.head_lr=1e-2", "optim.encoder_lr=3e-4", "data.eval_batch_size=128", "logger=none",
        "trainer.enable_progress_bar=false", f"output_dir={tmp_path}/run", f"cache_root={tmp_path}/cache"]))
    rows = [json.loads(line) for line in (tmp_path / "run" / "test_predictions.jsonl").read_text().splitlines()]
    gold, predicted = [r["gold"] for r in rows], [r["predicted"] for r in rows]
    assert len(rows) == 3257 and sum(len(get_entities(tags)) for tags in gold) == 5207  # default mode's count
    assert sum(len(get_entities(tags)) for tags in predicted) > 300  # not an empty prediction set
    assert results["metrics"]["test"]["f1"] == pytest.approx(f1_score(gold, predicted), abs=1e-6)  # logged as float32
