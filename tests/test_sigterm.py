"""SIGTERM (what SLURM sends before a requeue) stops a run with a non-zero exit, keeps its resume point, and
a sweep records the runs it never started, which the report counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fusionlab.analysis.cells import collect
from fusionlab.run import interruption
from fusionlab.run.interruption import RunInterrupted
from fusionlab.train import run
from tests.conftest import compose_config

ROOT = Path(__file__).resolve().parents[1]
TINY = ["fusion=text_only", "encoder=tiny", "logger=none", "trainer.enable_progress_bar=false",
        "dataset.synthetic.train=48", "dataset.synthetic.val=16", "dataset.synthetic.test=16", "data.batch_size=8",
        "checkpoint_every_n_steps=1", "+callbacks.sigterm={_target_: tests.interrupt.SignalAt, step: 2}"]


def _train(tmp_path: Path, *overrides: str, sweep: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "fusionlab.train", *(["-m"] if sweep else []), *TINY, *overrides]
    return subprocess.run([*command, f"cache_root={tmp_path}/cache"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_sigterm_stops_a_sweep_non_zero_and_its_later_runs_are_recorded_as_not_started(tmp_path):
    sweep = tmp_path / "sweep"
    stopped = _train(tmp_path, "seed=1,2,3", f"hydra.sweep.dir={sweep}", sweep=True)
    assert stopped.returncode != 0, stopped.stderr[-2000:]
    assert "stopped by SIGTERM at step 2" in stopped.stderr
    first, *later = sorted(sweep.glob("text_only_*"))
    assert (first / "checkpoints" / "last.ckpt").exists() and not (first / "results.json").exists()
    assert [json.loads((f / "not_started.json").read_text())["seed"] for f in later] == [2, 3]
    (cell,) = collect(sweep).values()
    assert (len(cell.runs), cell.failed, cell.unfinished, cell.not_started) == (0, 0, 1, 2)


def test_sigterm_stops_a_single_run_with_an_error_and_keeps_its_resume_point(tiny_overrides, tmp_path, monkeypatch):
    """In-process: the run raises (a command exits non-zero on it) instead of Lightning's SystemExit."""
    monkeypatch.setattr(interruption, "_STOPPED", [])  # this process's sweep state, restored afterwards
    with pytest.raises(RunInterrupted, match="stopped by SIGTERM at step 2"):
        run(compose_config(tiny_overrides + TINY[:1] + TINY[-2:]))
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").exists() and interruption.stopped_by()


def test_a_slurm_job_reaching_its_time_limit_is_requeued_not_ended():
    """submitit requeues a job SLURM signals before its time limit while its timeout countdown, set from
    ``max_num_timeout``, stays non-negative; the requeued job continues from last.ckpt (resume=auto)."""
    from hydra import compose, initialize_config_dir
    from submitit.core.utils import DelayedSubmission

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        launcher = compose(config_name="config", overrides=["hydra/launcher=slurm", "output_dir=/tmp/x"],
                           return_hydra_config=True).hydra.launcher
    job = DelayedSubmission(print)
    job.set_timeout(launcher.timeout_min, launcher.max_num_timeout)
    assert job._timeout_countdown - 1 >= 0  # submitit's rule for a timed-out job (job_environment.py)
    assert 0 < launcher.signal_delay_s < launcher.timeout_min * 60
