"""The Python API (fusionlab.train, evaluate, load, report): one tiny run shared by the module, its typed results,
the folder the command would name, and exceptions, never SystemExit."""

from __future__ import annotations

import importlib.util
import inspect
import json
import subprocess
import sys

import pytest
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException

import fusionlab

SIZES = ["encoder=tiny", "logger=none", "dataset.synthetic.train=32", "dataset.synthetic.val=16",
         "dataset.synthetic.test=16", "data.batch_size=16", "trainer.max_epochs=1", "trainer.enable_progress_bar=false"]
# what `python -m fusionlab.train` names this run's folder: fusion, task, dataset, seed and the overrides that change it
IDENTITY = ("text_only_mner_synthetic_s1_data.batch_size-16_dataset.synthetic.test-16_dataset.synthetic.train-32_"
            "dataset.synthetic.val-16_encoder-tiny_trainer.max_epochs-1")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    overrides = [*SIZES, "fusion=text_only", f"runs_root={root}/runs", f"cache_root={root}/cache"]
    before = HydraConfig.instance().cfg  # another test of this process may have run a Hydra app
    run = fusionlab.train(overrides)
    assert HydraConfig.instance().cfg is before  # Hydra's state restored
    return root, overrides, run


def test_train_returns_the_run_in_the_folder_the_command_names(trained):
    root, overrides, run = trained
    assert run.run_dir == root / "runs" / IDENTITY
    recorded = json.loads((run.run_dir / "results.json").read_text())
    assert (run.fusion, run.task, run.dataset, run.seed, run.best_epoch) == ("text_only", "mner", "synthetic", 1, 0)
    assert run.metrics == recorded["metrics"]["test"] and run.val == recorded["metrics"]["val"]
    assert recorded["run"]["command"] == " ".join(["python -m fusionlab.train", *overrides])  # runs as written
    (row,) = run.to_frame().to_dict("records")
    assert (row["fusion"], row["seed"], row["test_f1"], row["run_dir"]) == ("text_only", 1, run.metrics["f1"],
                                                                            str(run.run_dir))
    again = fusionlab.train(overrides)  # the same overrides find the finished run: returned, not trained again
    assert again.results == recorded and run.checkpoint.is_file()


def test_bad_input_raises_exceptions_never_system_exit(tmp_path):
    before = HydraConfig.instance().cfg
    with pytest.raises(HydraException, match="fusion/nope"):
        fusionlab.train(["fusion=nope"])
    with pytest.raises(ValueError, match="data.max_length=4"):
        fusionlab.train([*SIZES, "data.max_length=4"], output_dir=tmp_path / "run")
    with pytest.raises(TypeError, match="a list of overrides"):
        fusionlab.train("fusion=concat")
    with pytest.raises(FileNotFoundError, match="no checkpoints/best.ckpt"):
        fusionlab.load(tmp_path)
    with pytest.raises(ValueError, match="no readable results.json"):
        fusionlab.report(runs=tmp_path)
    assert HydraConfig.instance().cfg is before


def test_evaluate_load_and_report_return_what_they_wrote(trained, tmp_path):
    root, _, run = trained
    evaluation = fusionlab.evaluate(run.run_dir, "removed")
    assert evaluation.record == json.loads((run.run_dir / "evaluation_removed.json").read_text())
    (row,) = evaluation.to_frame().to_dict("records")
    assert (row["test_images"], row["test_f1"]) == ("removed", evaluation.metrics["f1"])

    rows = fusionlab.load(run.run_dir).predict(["Alice visits Paris", {"text": "Bob"}])
    assert [r["text"] for r in rows] == ["Alice visits Paris", "Bob"] and all("entities" in r for r in rows)

    report = fusionlab.report(runs=root / "runs", out=tmp_path / "report")
    assert report.path == tmp_path / "report" and report.markdown == (report.path / "report.md").read_text()
    assert report.runs[["fusion", "seed", "test_f1", "best_epoch"]].to_dict("records") == [
        {"fusion": "text_only", "seed": 1, "test_f1": run.metrics["f1"], "best_epoch": 0}]
    f1 = report.results.set_index("metric").loc["f1"]
    assert (f1["fusion"], f1["mean"], f1["seeds"]) == ("text_only", run.metrics["f1"], 1)
    assert report.figures and report.figures == sorted(report.path.glob("*.png"))
    has_parquet = importlib.util.find_spec("pyarrow") is not None
    assert (report.path / "runs.parquet").exists() == has_parquet


def test_the_commands_modules_are_the_api_functions_and_import_fusionlab_stays_light():
    assert callable(fusionlab.train) and fusionlab.train is sys.modules["fusionlab.train"]
    assert list(inspect.signature(fusionlab.train).parameters) == ["overrides", "output_dir"]
    assert list(inspect.signature(fusionlab.report).parameters)[:2] == ["runs", "out"]
    assert callable(fusionlab.evaluate) and fusionlab.load.__module__ == "fusionlab.api.loading"
    light = subprocess.run([sys.executable, "-c", "import sys, fusionlab; print(sorted({'torch', 'pandas', "
                            "'lightning', 'fusionlab.train'} & set(sys.modules)))"], capture_output=True, text=True)
    assert light.stdout.strip() == "[]", light.stderr
