"""A run's records are written whole or not at all, and its resume point outlives a failed results write."""

from __future__ import annotations

import errno
import pathlib

import pytest

from fusionlab.train import run
from tests.conftest import compose_config


def test_a_failed_results_write_keeps_the_resume_point_and_the_rerun_finishes(tmp_path, tiny_overrides, monkeypatch):
    overrides = tiny_overrides + ["fusion=text_only"]
    write_text = pathlib.Path.write_text

    def disk_full(path, text, *args, **kwargs):
        if "results.json" in path.name:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return write_text(path, text, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", disk_full)
    with pytest.raises(OSError, match="No space left"):
        run(compose_config(overrides))
    folder = tmp_path / "run"
    assert (folder / "checkpoints" / "last.ckpt").is_file() and not (folder / "results.json").exists()
    monkeypatch.undo()
    again = run(compose_config(overrides))
    assert again["run"]["resumed_from"] == str(folder / "checkpoints" / "last.ckpt")
    assert (folder / "results.json").is_file() and not (folder / "checkpoints" / "last.ckpt").exists()
