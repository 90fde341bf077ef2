"""A resumed run's efficiency counts every attempt: samples and seconds alike, up to the resume point."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from fusionlab.run import recorder as recorder_module
from fusionlab.run.recorder import RunRecorder


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _batches(recorder: RunRecorder, clock: Clock, count: int, seconds: float) -> None:
    for _ in range(count):
        clock.now += seconds
        recorder.on_train_batch_end(None, None, None, {"examples": [0] * 8}, 0)


def test_an_epoch_interrupted_after_a_checkpoint_counts_the_time_before_the_resume(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(recorder_module.time, "perf_counter", clock)
    trainer = SimpleNamespace(current_epoch=0)
    first = RunRecorder()
    first.on_train_start(trainer, None)
    first.on_train_epoch_start(trainer, None)
    _batches(first, clock, 5, 2.0)  # 10 s, 40 samples, then the resume point
    saved = first.state_dict()
    _batches(first, clock, 3, 2.0)  # lost with the kill: redone after the resume
    clock.now += 500.0  # the machine is down

    second = RunRecorder()
    second.load_state_dict(saved)
    second.on_train_start(trainer, None)  # resumed mid-epoch: no on_train_epoch_start
    _batches(second, clock, 5, 2.0)  # the epoch's other 5 batches
    second.on_train_epoch_end(trainer, None)
    assert second.epoch_seconds == [pytest.approx(20.0)] and second.train_samples == 80
    assert second.train_samples / sum(second.epoch_seconds) == pytest.approx(4.0)  # as an uninterrupted run


def test_a_checkpoint_of_an_older_run_resumes_with_no_elapsed_time(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(recorder_module.time, "perf_counter", clock)
    recorder = RunRecorder()
    recorder.load_state_dict({"val_history": [], "epoch_seconds": [3.0], "train_samples": 16})
    recorder.on_train_start(None, None)
    clock.now += 4.0
    recorder.on_train_epoch_end(None, None)
    assert recorder.epoch_seconds == [3.0, 4.0]
