"""The README's Quickstart as a user runs it: every ``python -m fusionlab.<app>`` command exactly as written
there, and every console script, each a subprocess in its own working folder, with tiny encoders and sizes
added as extra overrides. Each must exit 0 and print what the user reads.

The commands run once for the module, two at a time (the suite runs on 2 cores; ``FUSIONLAB_TEST_JOBS=1``
runs them one by one), in three rounds: the training commands and the data checks; then what reads the
trained runs (report, predict, a re-run); then the evaluations, which write into the runs the report reads.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

import fusionlab.schema  # noqa: F401  (registers the fusion schemas that compose_config needs)
from tests.conftest import compose_config
from tests.fixtures import write_dataset
from tests.test_cli import SCRIPTS

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# two at once, or one where make test already runs a pytest process per core (pytest-xdist)
JOBS = int(os.environ.get("FUSIONLAB_TEST_JOBS", 1 if os.environ.get("PYTEST_XDIST_WORKER") else min(2, os.cpu_count() or 1)))
TINY = ["encoder=tiny", "trainer.enable_progress_bar=false", "dataset.synthetic.train=32", "dataset.synthetic.val=8",
        "dataset.synthetic.test=8", "data.batch_size=16", "trainer.max_epochs=1"]
# an experiment names its encoders and trainer itself: the groups and the names are overridden (test_experiments)
TINY_EXPERIMENT = ["encoder=tiny", "encoder.text.name=tiny", "encoder.vision.name=tiny", "trainer=cpu",
                   "++trainer.fast_dev_run=true", "trainer.enable_progress_bar=false"]


def quickstart_commands() -> dict[str, list[str]]:
    """The README's Quickstart ``python -m fusionlab.<app>`` lines as argv lists, by what each does."""
    block = (ROOT / "README.md").read_text().split("## Quickstart", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = {}
    for line in block.splitlines():
        argv = shlex.split(line, comments=True)
        if argv[:2] != [".venv/bin/python", "-m"]:
            continue  # make targets
        app = argv[2].removeprefix("fusionlab.")
        if app == "train":
            app = "experiment" if any(a.startswith("experiment=") for a in argv) else "sweep" if "-m" in argv[3:] else app
        commands[app] = [sys.executable, *argv[1:]]
    return commands


def _run(argv: list[str], cwd: Path, data: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    if data:
        env["FUSIONLAB_DATA"] = str(data)
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _folder(root: Path, name: str) -> Path:
    (root / name).mkdir()
    return root / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Every command's CompletedProcess (by name; console scripts by their name) and the folders they ran in."""
    root = tmp_path_factory.mktemp("quickstart")
    release = root / "release"  # HVPNeT's release layout, tiny (FUSIONLAB_DATA for the check and the experiment)
    for dataset, task in (("twitter2015", "mner"), ("mnre", "mre")):
        write_dataset(compose_config([f"data_root={release}", f"dataset={dataset}", f"task={task}",
                                      f"output_dir={root}/unused"]))
    user, train = _folder(root, "user"), _folder(root, "train")  # the sweep and what reads it; the single run
    Image.new("RGB", (40, 30), (200, 30, 30)).save(user / "photo.png")
    (user / "inputs.jsonl").write_text('{"text": "look at Kalo"}\n{"text": "Kalo visits Paris", "image": "photo.png"}\n')
    quick = quickstart_commands()
    assert set(quick) == {"train", "sweep", "report", "check", "experiment", "evaluate", "predict"}, quick
    folders = {"user": user, "train": train}

    def rounds(*jobs):
        with ThreadPoolExecutor(JOBS) as pool:
            return dict(zip([name for name, *_ in jobs], pool.map(lambda job: _run(*job[1:]), jobs)))

    done = rounds(("sweep", quick["sweep"] + TINY, user),
                  ("experiment", quick["experiment"] + TINY_EXPERIMENT, _folder(root, "experiment"), release),
                  ("train", quick["train"] + TINY, train),
                  ("check", quick["check"] + ["encoder=tiny"], _folder(root, "check"), release),
                  ("fusionlab-check", [str(BIN / "fusionlab-check"), "dataset=mnre", "task=mre", "fusion=hvpnet",
                                       "encoder=tiny"], _folder(root, "console-check"), release),
                  ("debug", quick["train"] + TINY + ["debug=fdr"], _folder(root, "debug")),
                  ("unread key", quick["train"] + TINY + ["+optim.lrr=0.5"], _folder(root, "unread")))
    sweeps = list((user / "multirun").iterdir()) if (user / "multirun").is_dir() else []
    assert done["sweep"].returncode == 0 and len(sweeps) == 1, done["sweep"].stderr[-3000:]
    folders["sweep"] = sweep = sweeps[0].relative_to(user)
    # relative to the user's folder, as the user types them: one run for evaluate and predict, one for removed images
    folders["run"] = run = next((user / sweep).glob("hvpnet_mner_synthetic_s1_*")).relative_to(user)
    folders["run_removed"] = next((user / sweep).glob("concat_mner_synthetic_s1_*")).relative_to(user)

    def placed(argv: list[str]) -> list[str]:
        return [a.replace("multirun/<time>", str(sweep)).replace("<run>", str(run)) for a in argv]

    done |= rounds(("report", placed(quick["report"]), user),
                   ("fusionlab-report", [str(BIN / "fusionlab-report"), f"runs={sweep}", "out=console_report"], user),
                   ("predict", placed(quick["predict"]), user),
                   ("fusionlab-predict", [str(BIN / "fusionlab-predict"), f"ckpt={run}/checkpoints/best.ckpt",
                                          "inputs=inputs.jsonl"], user),
                   ("fusionlab-train", [str(BIN / "fusionlab-train"), *quick["train"][3:], *TINY], train),
                   ("fusionlab-export", [str(BIN / "fusionlab-export"), f"run_dir={run}", "to=hub", "out=shared"], user))
    done |= rounds(("evaluate", placed(quick["evaluate"]), user),
                   ("fusionlab-evaluate", [str(BIN / "fusionlab-evaluate"), f"run_dir={folders['run_removed']}",
                                           "test_images=removed"], user))
    return {"done": done, **folders}


def _ok(runs: dict, name: str) -> str:
    """The command's stdout and stderr, once its exit code is 0."""
    done = runs["done"][name]
    assert done.returncode == 0, f"{name}: exit {done.returncode}\n{done.stderr[-4000:]}"
    return done.stdout + done.stderr


def test_every_console_script_ran_and_exited_0(runs):
    scripts = {name for name in runs["done"] if name.startswith("fusionlab-")}
    assert scripts == set(SCRIPTS)
    for name in sorted(scripts):
        _ok(runs, name)


def test_quickstart_train_runs_and_names_its_results(runs):
    out = _ok(runs, "train")
    summary = re.search(r"run:\n(.*?)\n\S*\[", out, re.S).group(1)  # the config, briefly, as the run starts
    for key, value in (("method", "text_only (text_only)"), ("task", "mre"), ("dataset", "synthetic"),
                       ("encoders", "text tiny"), ("seed", "2"), ("folder", "/outputs/text_only_mre_synthetic_s2_")):
        assert re.search(rf"^{key} +\S*{re.escape(value)}", summary, re.M), (key, summary)
    assert "vision" not in summary  # text_only reads no image
    scores = re.search(r"test \(text_only / mre / synthetic, seed 2, best epoch 0 by val/f1\):\n(.*?)\nwritten in (\S+): "
                       r"([^\n]*)", out, re.S)
    results = Path(scores.group(2)) / "results.json"
    assert results.parent.parent.resolve() == (runs["train"] / "outputs").resolve()
    assert results.parent.name.startswith("text_only_mre_synthetic_s2_")
    recorded = json.loads(results.read_text())["metrics"]["test"]
    table = dict(line.split() for line in scores.group(1).splitlines()[2:])  # metric, value: rounded
    assert set(table) == set(recorded) and table["f1"] == f"{recorded['f1']:.4f}"
    assert scores.group(3).split(", ") == ["checkpoints/", "csv/", "results.json", "run.json", "test_predictions.jsonl",
                                         "train.log"]
    assert "💡 Tip" not in out and "LeafSpec" not in out and "log_every_n_steps" not in out  # noise, silenced


def test_quickstart_sweep_trains_every_fusion_and_seed(runs):
    out = _ok(runs, "sweep")
    for fusion in ("text_only", "concat", "hvpnet"):
        for seed in (1, 2, 3):
            assert f"test ({fusion} / mner / synthetic, seed {seed}, best epoch 0 by val/f1):" in out
    assert len(list((runs["user"] / runs["sweep"]).glob("*/results.json"))) == 9
    assert "sweep of 9 runs into" in out  # the sweep's progress, run by run
    assert re.search(r"sweep run 9 of 9: hvpnet_mner_synthetic_s3\S*\n", out)
    assert len(re.findall(r"sweep run \d of 9 ended: best validation score \d\.\d{4}", out)) == 9


def test_quickstart_report_prints_the_comparison_and_where_it_lies(runs):
    out = _ok(runs, "report")
    assert "# Comparison" in out and "| fusion | synthetic/mner |" in out
    assert re.search(r"\| hvpnet \| [\d.]+ ± [\d.]+ \|", out) and "| hvpnet | 3 ok, 0 failed |" in out
    assert f"report: {runs['sweep']}/report" in out and (runs["user"] / runs["sweep"] / "report" / "report.md").is_file()


def test_quickstart_check_prints_each_split(runs):
    out = _ok(runs, "check")
    assert "# twitter2015 / mner (fusion hvpnet, max_length 80)" in out
    for row in ("examples | 4 | 4 | 4", "entities | 8 | 8 | 8", "missing_images | 0 | 0 | 0",
                "images_found | 4 | 4 | 4", "missing_aux | 0 | 0 | 0", "crops_found | 8 | 8 | 8"):
        assert f"| {row} |" in out, row
    assert not (runs["user"].parent / "check" / "outputs").exists()  # the check writes nothing


def test_quickstart_experiment_runs_the_paper_s_seeds(runs):
    out = _ok(runs, "experiment")
    for seed in (1, 49, 1234, 2021, 4321):
        assert f"test (hvpnet / mner / twitter2015, seed {seed}, last weights by val/f1):" in out


def test_quickstart_evaluate_tests_the_run_with_shuffled_images(runs):
    out = _ok(runs, "evaluate")
    record = json.loads((runs["user"] / runs["run"] / "evaluation_shuffled.json").read_text())
    assert record["test_images"] == "shuffled"
    assert re.search(rf"^f1 +{record['metrics']['test']['f1']:.4f}$", out, re.M)  # the scores, rounded
    assert f"written: {runs['run']}/evaluation_shuffled.json" in out


def test_quickstart_predict_prints_one_json_line(runs):
    done = runs["done"]["predict"]
    _ok(runs, "predict")
    row = json.loads(done.stdout)
    assert row["text"] == "look at Kalo" and row["image"] == str((runs["user"] / "photo.png").resolve())
    words = row["text"].split()
    for entity in row["entities"]:  # what the untrained tiny model finds varies; how it says it does not
        assert entity["text"] == " ".join(words[entity["start"]:entity["end"]])
        assert entity["type"] in ("PER", "LOC", "ORG", "MISC") and 0 < entity["score"] <= 1
    assert 0 < row["probability"] <= 1  # the CRF's probability of the whole tagging


def test_console_check_counts_mnre_crops_per_line(runs):
    out = _ok(runs, "fusionlab-check")
    assert "# mnre / mre (fusion hvpnet, max_length 80)" in out
    for row in ("examples | 8 | 8 | 8", "images_found | 8 | 8 | 8", "crops_found | 16 | 16 | 16",
                "aux_slots_empty | 8 | 8 | 8", "aux_mapping_entries | 8 | 8 | 8"):
        assert f"| {row} |" in out, row


def test_console_report_writes_where_told(runs):
    out = _ok(runs, "fusionlab-report")
    assert "| hvpnet | 3 ok, 0 failed |" in out and "report: console_report" in out
    assert (runs["user"] / "console_report" / "report.md").is_file()


def test_console_predict_reads_inputs(runs):
    _ok(runs, "fusionlab-predict")
    rows = [json.loads(line) for line in runs["done"]["fusionlab-predict"].stdout.splitlines()]
    assert [r["text"] for r in rows] == ["look at Kalo", "Kalo visits Paris"]


def test_console_train_leaves_the_finished_quickstart_run_alone(runs):
    out = _ok(runs, "fusionlab-train")
    assert re.search(r"outputs/text_only_mre_synthetic_s2_\S+ already finished: not training it again", out)


def test_console_evaluate_counts_removed_images(runs):
    _ok(runs, "fusionlab-evaluate")
    record = json.loads((runs["user"] / runs["run_removed"] / "evaluation_removed.json").read_text())
    assert record["test_images"] == "removed" and record["data"]["missing_images"] == 8


def test_debug_runs_land_apart_and_never_count_as_finished(runs):
    out = _ok(runs, "debug")
    (folder,) = (runs["user"].parent / "debug" / "outputs" / "debug").iterdir()
    assert folder.name.startswith("text_only_mre_synthetic_s2_") and "_debug-fdr_" in folder.name
    assert (folder / "debug_results.json").is_file() and not (folder / "results.json").exists()
    assert json.loads((folder / "debug_results.json").read_text())["debug_mode"] == "fdr"
    assert "fdr: not a result (debug_results.json)" in out
    assert not list(folder.parent.parent.rglob("results.json"))  # nothing a report or a resume would count


def test_a_key_nothing_reads_is_refused_before_any_run_folder(runs):
    done = runs["done"]["unread key"]
    assert done.returncode == 1
    assert "optim.lrr: nothing reads this key; did you mean optim.lr?" in done.stderr
    assert not (runs["user"].parent / "unread" / "outputs").exists()


def test_console_export_writes_a_folder_the_hub_takes(runs):
    _ok(runs, "fusionlab-export")
    folder = runs["user"] / "shared"
    assert runs["done"]["fusionlab-export"].stdout.split() == ["shared"]  # stdout: the folder alone
    assert {p.name for p in folder.iterdir()} == {"model.safetensors", "config.json", "labels.json", "README.md",
                                                 "fusionlab.json"}
    assert "hvpnet" in (folder / "README.md").read_text()


def test_every_make_target_the_readme_names_is_a_target_of_the_makefile():
    readme, makefile = (ROOT / "README.md").read_text(), (ROOT / "Makefile").read_text()
    named = set(re.findall(r"^make ([\w-]+)", readme, flags=re.MULTILINE))
    targets = set(re.findall(r"^([\w-]+):", makefile, flags=re.MULTILINE))
    assert {"train", "test", "bench", "precision-evidence"} <= named
    assert named <= targets, named - targets
