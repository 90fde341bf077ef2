"""Run records a comparison can trust: one folder per run, the best epoch as the checkpoint kept it,
a re-run that continues or leaves alone, and a report that neither pools nor loses runs."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from fusionlab.analysis.cells import collect
from fusionlab.data.resumable import EpochSampler
from fusionlab.report import report
from fusionlab.run.folder import RunFolder
from fusionlab.run.identity import run_name
from fusionlab.run.lock import RunInProgressError
from fusionlab.train import run
from tests.conftest import compose_config

ROOT = Path(__file__).resolve().parents[1]
TINY = ["encoder=tiny", "logger=none", "trainer.enable_progress_bar=false", "dataset.synthetic.train=48",
        "dataset.synthetic.val=16", "dataset.synthetic.test=16", "data.batch_size=16", "fusion=text_only"]


def _cli(tmp_path: Path, *overrides: str, cwd: Path = ROOT, timeout: int = 300) -> subprocess.CompletedProcess:
    flags = [o for o in overrides if o.startswith("-")]
    command = [sys.executable, "-m", "fusionlab.train", *flags, *TINY, f"cache_root={tmp_path}/cache",
               *(o for o in overrides if not o.startswith("-"))]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)


def test_sweep_runs_never_share_a_folder_and_the_report_names_what_varied(tmp_path):
    sweep = tmp_path / "multirun"
    done = _cli(tmp_path, "-m", "optim.lr=1e-3,1e-4", "trainer.max_epochs=1", f"hydra.sweep.dir={sweep}")
    assert done.returncode == 0, done.stderr[-3000:]
    results = sorted(sweep.rglob("results.json"))
    names = [p.parent.name for p in results]
    assert len(results) == 2 and all(n.startswith("text_only_mner_synthetic_s1_") for n in names)
    for path in results:  # each folder names its own learning rate, and holds that run
        lr = json.loads(path.read_text())["config"]["optim"]["lr"]
        assert f"optim.lr-{lr}_" in path.parent.name and "encoder-tiny" in path.parent.name
    assert {json.loads(p.read_text())["config"]["optim"]["lr"] for p in results} == {1e-3, 1e-4}
    assert all(len(list(p.parent.glob("checkpoints/*.ckpt"))) == 1 for p in results)  # best.ckpt, no best-v1
    table = (report(sweep) / "report.md").read_text()
    assert "| text_only [optim.lr=0.001] |" in table and "| text_only [optim.lr=0.0001] |" in table


def test_run_names_differ_whenever_the_overrides_differ():
    assert run_name("concat", "mner", "synthetic", 2) == "concat_mner_synthetic_s2"
    assert run_name("concat", "mner", "synthetic", 2, "optim.lr=1e-3,+preset=laptop") == \
        "concat_mner_synthetic_s2_optim.lr-1e-3_+preset-laptop"
    slashed = [run_name("concat", "mner", "synthetic", 1, f"dataset.image_dir=/data/{d}") for d in ("a_b", "a/b")]
    assert "/" not in slashed[1] and slashed[0] != slashed[1]
    long = [run_name("concat", "mner", "synthetic", 1, f"callbacks=[{'x' * 300}{i}]") for i in range(2)]
    assert long[0] != long[1] and all(len(n) <= 200 for n in long)


def test_two_runs_with_one_identity_never_share_a_folder(tmp_path, tiny_overrides):
    folder = RunFolder(tmp_path / "run")
    with folder.lock():
        with pytest.raises(RunInProgressError, match="is in use by pid"):
            run(compose_config(tiny_overrides + ["fusion=text_only"]))
    with folder.lock():  # its holder is done: the folder is free again
        pass
    assert not (tmp_path / "run" / "results.json").exists()


def test_best_epoch_matches_the_checkpoint(tmp_path, tiny_overrides):
    overrides = tiny_overrides + ["fusion=concat", "trainer.max_epochs=4", "logger=csv"]
    results = run(compose_config(overrides))
    kept = torch.load(tmp_path / "run" / "checkpoints" / "best.ckpt", weights_only=True)
    assert results["best_epoch"] == kept["epoch"] and results["best_step"] == kept["global_step"]
    rows = list(csv.DictReader(next((tmp_path / "run" / "csv").rglob("metrics.csv")).open()))
    logged = {int(r["epoch"]): float(r["val/f1"]) for r in rows if r.get("val/f1")}
    assert [h["metrics"]["f1"] for h in results["val_history"]] == pytest.approx([logged[e] for e in range(4)])
    assert results["metrics"]["val"]["f1"] == pytest.approx(logged[kept["epoch"]])
    assert logged[kept["epoch"]] == max(logged.values())


@pytest.mark.parametrize(("interrupted_after", "epoch_steps"), [(5, 3), (4, 3), (3, 2)])
def test_rerunning_a_command_continues_an_interrupted_run_and_leaves_a_finished_one(
        tiny_overrides, tmp_path, interrupted_after, epoch_steps):
    """A resume point every step. With 3 steps per epoch, after step 5 the last one is mid-epoch (step 4);
    after step 4 it is the one after epoch 0's validation, not the one after its last batch, which Lightning
    would resume past that validation. The same when ``limit_train_batches`` ends epochs after 2 steps."""
    common = tiny_overrides + ["fusion=concat", "trainer.max_epochs=3", "checkpoint_every_n_steps=1",
                               f"+trainer.limit_train_batches={epoch_steps}"]
    full = run(compose_config(common + [f"output_dir={tmp_path}/full"]))
    with pytest.raises(RuntimeError, match=f"interrupted after step {interrupted_after}"):
        run(compose_config(common + [f"output_dir={tmp_path}/cut", "+callbacks.interrupt="
                                     f"{{_target_: tests.interrupt.InterruptAt, step: {interrupted_after}}}"]))
    (started,) = json.loads((tmp_path / "cut" / "run.json").read_text())  # one attempt so far
    assert started["status"] == "started" and started["resumed_from"] is None
    resumed = run(compose_config(common + [f"output_dir={tmp_path}/cut"]))  # the same command, resume=auto
    assert resumed["run"]["resumed_from"].endswith("last.ckpt")
    assert resumed["metrics"]["test"] == pytest.approx(full["metrics"]["test"], abs=1e-6)
    assert resumed["best_epoch"] == full["best_epoch"]
    assert resumed["val_history"] == full["val_history"] == [  # every epoch validated once, none skipped
        {"epoch": epoch, "step": epoch_steps * (epoch + 1), "metrics": full["val_history"][epoch]["metrics"]}
        for epoch in range(3)]
    written = (tmp_path / "cut" / "results.json").stat().st_mtime_ns
    again = run(compose_config(common + [f"output_dir={tmp_path}/cut"]))
    assert again == json.loads((tmp_path / "cut" / "results.json").read_text())  # recorded, not retrained
    assert (tmp_path / "cut" / "results.json").stat().st_mtime_ns == written
    with pytest.raises(FileExistsError, match="holds a finished run"):
        run(compose_config(common + [f"output_dir={tmp_path}/cut", "resume=false"]))


@pytest.mark.parametrize("replicas", [1, 2, 3])
def test_a_mid_epoch_resume_neither_replays_nor_skips_samples_on_any_number_of_processes(replicas):
    size, batch, done = 23, 2, 3  # every process trained 3 batches of the epoch before the interruption
    full = [list(EpochSampler(size, 7, replicas, rank)) for rank in range(replicas)]
    for sampler in (EpochSampler(size, 7, replicas, rank) for rank in range(replicas)):
        sampler.start = done * batch
        assert list(sampler) == full[sampler.rank][done * batch:]
    assert set(i for share in full for i in share) == set(range(size))
    assert len({len(share) for share in full}) == 1  # equal shares: no process waits on another


@pytest.mark.parametrize("processes", [1, 2])
def test_kill_9_mid_epoch_then_the_same_command_ends_as_an_uninterrupted_run(tmp_path, processes):
    """The whole process group (every DDP rank) is killed as soon as the first resume point exists;
    the same command, run again from the same folder, continues it (2 processes: gloo on CPU)."""
    command = ["trainer=ddp_cpu"] * (processes == 2) + ["trainer.max_epochs=6", "checkpoint_every_n_steps=1"]
    for where in ("full", "cut"):
        (tmp_path / where).mkdir()
    full = _cli(tmp_path, *command, cwd=tmp_path / "full")
    assert full.returncode == 0, full.stderr[-3000:]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", "fusionlab.train", *TINY, f"cache_root={tmp_path}/cache", *command]
    victim = subprocess.Popen(argv, cwd=tmp_path / "cut", env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not list((tmp_path / "cut").glob("outputs/*/checkpoints/last.ckpt")) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    (cut_dir,) = (tmp_path / "cut" / "outputs").iterdir()
    assert not (cut_dir / "results.json").exists(), "the run finished before it could be killed"
    again = _cli(tmp_path, *command, cwd=tmp_path / "cut")
    assert again.returncode == 0, again.stderr[-3000:]
    (full_dir,) = (tmp_path / "full" / "outputs").iterdir()
    assert cut_dir.name == full_dir.name and cut_dir.name.endswith(
        "trainer.max_epochs-6" + ("_trainer-ddp_cpu" if processes == 2 else ""))
    expected, resumed = (json.loads((d / "results.json").read_text()) for d in (full_dir, cut_dir))
    assert resumed["run"]["resumed_from"] and resumed["run"]["processes"] == expected["run"]["processes"] == processes
    log = (cut_dir / "train.log").read_text()
    assert "resuming mid-epoch" in log and "not resumable" not in log  # Lightning's false alarm is not shown
    assert resumed["best_epoch"] == expected["best_epoch"]
    assert resumed["metrics"]["val"] == pytest.approx(expected["metrics"]["val"], abs=1e-6)
    assert resumed["metrics"]["test"] == pytest.approx(expected["metrics"]["test"], abs=1e-6)
    weights = [torch.load(d / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"] for d in (full_dir, cut_dir)]
    assert all(torch.allclose(weights[0][k].float(), weights[1][k].float(), atol=1e-6) for k in weights[0])


def _fake(root: Path, name: str, fusion: str, seed: int, f1: float, lr: float, status: str = "results") -> None:
    folder = root / name
    folder.mkdir(parents=True)
    config = {"seed": seed, "optim": {"lr": lr}, "data": {"sample_ratio": 1.0}, "output_dir": str(folder)}
    record = {"fusion": fusion, "task": "mner", "dataset": "synthetic", "seed": seed, "monitor": "f1",
              "metrics": {"val": {"f1": f1}, "test": {"f1": f1}, "test_groups": {}},
              "params": {"total": 1, "trainable": 1}, "peak_memory_mb": 1.0, "config": config,
              "timing": {"train_seconds_per_epoch": [1.0], "eval_seconds": 1.0, "train_samples_per_second": 1.0}}
    file = {"results": "results.json", "failed": "failed.json", "started": "run.json"}[status]
    (folder / file).write_text(json.dumps(record))


def test_runs_that_differ_in_a_hyperparameter_are_never_pooled_and_killed_runs_are_counted(tmp_path):
    for seed in (1, 2):
        _fake(tmp_path / "sweep_a", f"s{seed}", "concat", seed, 0.5, lr=1e-3)
        _fake(tmp_path / "sweep_b", f"s{seed}", "concat", seed, 0.9, lr=1e-4)
    _fake(tmp_path / "sweep_b", "s3", "concat", 3, 0.0, lr=1e-4, status="started")  # killed: run.json only
    cells = collect(tmp_path)
    column = ("synthetic", "mner", 1.0)
    assert set(cells) == {("concat [optim.lr=0.001]", column), ("concat [optim.lr=0.0001]", column)}
    slow, fast = cells["concat [optim.lr=0.001]", column], cells["concat [optim.lr=0.0001]", column]
    assert slow.scores() == {1: 0.5, 2: 0.5} and fast.scores() == {1: 0.9, 2: 0.9}
    assert fast.unfinished == 1 and slow.unfinished == 0
    table = (report(tmp_path) / "report.md").read_text()
    assert "| concat [optim.lr=0.0001] | 2 ok, 0 failed, 1 unfinished (killed or still training) |" in table
