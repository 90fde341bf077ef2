"""Twitter-2015 in its two label versions: a run records which it read, evaluate scores a trained run on the
other version's test file, and the report sets the two scores side by side (skips without ../shared/data)."""

from __future__ import annotations

import json

import pytest

from fusionlab.evaluate import evaluate
from fusionlab.report import report
from fusionlab.train import run
from tests.conftest import compose_config, shared_file

ORIGINAL, REVISED = "twitter2015 original (UMT)", "twitter2015 revised (HVPNeT)"


@pytest.fixture(scope="module")
def twitter2015():
    original = shared_file("twitter2015", "test.txt")
    revised = shared_file("hvpnet_release", "NER_data", "twitter2015", "test.txt")
    return original.parents[1], revised.parents[2], revised


def _tiny(tmp_path, name: str, data_root, layout: str) -> list[str]:
    return ["encoder=tiny", "logger=none", "fusion=text_only", "task=mner", "dataset=twitter2015",
            f"dataset.layout={layout}", f"data_root={data_root}", f"output_dir={tmp_path}/runs/{name}",
            f"cache_root={tmp_path}/cache", "data.batch_size=32", "data.eval_batch_size=256", "trainer.max_epochs=1",
            "+trainer.limit_train_batches=4", "+trainer.limit_val_batches=2", "trainer.enable_progress_bar=false"]


def test_runs_on_the_two_versions_record_their_release_and_the_report_audits_one_on_the_other(tmp_path, twitter2015):
    shared, release_root, revised_test = twitter2015
    on_original = run(compose_config(_tiny(tmp_path, "original", shared, "flat")))
    on_revised = run(compose_config(_tiny(tmp_path, "revised", release_root, "hvpnet")))
    assert on_original["data"]["release"] == ORIGINAL and on_revised["data"]["release"] == REVISED
    assert on_original["data"]["files"]["test"]["sha256"] != on_revised["data"]["files"]["test"]["sha256"]

    audited = evaluate(tmp_path / "runs" / "original", tmp_path / "runs" / "original" / "checkpoints" / "best.ckpt",
                       "clean", compose_config(["output_dir=/tmp/x"]).trainer, test_file=revised_test)
    assert audited["release"] == REVISED and audited["test_file"]["path"] == str(revised_test)
    saved = json.loads(next((tmp_path / "runs" / "original").glob("evaluation_test_*.json")).read_text())
    assert saved["metrics"]["test"]["f1"] == pytest.approx(audited["metrics"]["test"]["f1"])
    assert saved["metrics"]["test"]["f1"] != pytest.approx(on_original["metrics"]["test"]["f1"])  # other labels

    text = (report(tmp_path / "runs") / "report.md").read_text()
    own, other = 100 * on_original["metrics"]["test"]["f1"], 100 * audited["metrics"]["test"]["f1"]
    assert (f"| text_only [data.release={ORIGINAL}, dataset.layout=flat] | twitter2015/mner | 1 | {ORIGINAL} | {own:.1f} (1 run) | "
            f"{REVISED} | {other:.1f} (1 run) | {round(other - own, 1) + 0.0:.1f} (1 run) |") in text
    assert f"| text_only [data.release={REVISED}, dataset.layout=hvpnet] | twitter2015/mner | {REVISED} |" in text


def test_a_test_file_that_does_not_exist_is_refused(tmp_path, twitter2015):
    shared, _, _ = twitter2015
    run(compose_config(_tiny(tmp_path, "original", shared, "flat")))
    with pytest.raises(FileNotFoundError, match="test_file=/nowhere/test.txt: no such file"):
        evaluate(tmp_path / "runs" / "original", tmp_path / "runs" / "original" / "checkpoints" / "best.ckpt",
                 "clean", compose_config(["output_dir=/tmp/x"]).trainer, test_file="/nowhere/test.txt")
