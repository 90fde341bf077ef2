"""One CLI grammar: every console script is a Hydra app taking ``key=value`` overrides, and a missing key
stops with its name and the usage."""

from __future__ import annotations

import importlib
import logging
import re
import sys
from pathlib import Path

import pytest
import yaml

from fusionlab import predict, report

ROOT = Path(__file__).resolve().parents[1]
# pyproject.toml's [project.scripts] (read without tomllib, which Python 3.10 lacks)
SCRIPTS = dict(re.findall(r'(?m)^([\w-]+) = "([\w.:]+)"$', (ROOT / "pyproject.toml").read_text()
                          .partition("[project.scripts]\n")[2].partition("\n[")[0]))
# per script: an override, the key it sets and the value the app's config then holds
OVERRIDES = {"fusionlab-train": ("seed=7", "seed", 7), "fusionlab-evaluate": ("run_dir=a_run", "run_dir", "a_run"),
             "fusionlab-check": ("seed=7", "seed", 7), "fusionlab-predict": ("ckpt=best.ckpt", "ckpt", "best.ckpt"),
             "fusionlab-report": ("runs=[multirun/a,multirun/b]", "runs", ["multirun/a", "multirun/b"]),
             "fusionlab-export": ("run_dir=a_run", "run_dir", "a_run")}


def run_main(main, *arguments: str) -> None:
    """Call a console script's ``main`` in-process as ``<script> arguments...``; logging is left as it was."""
    root = logging.getLogger()
    handlers, level, argv = root.handlers[:], root.level, sys.argv
    sys.argv = [main.__module__, *arguments]
    try:
        main()
    finally:
        sys.argv = argv
        root.handlers[:] = handlers
        root.setLevel(level)


def script_main(name: str):
    module, _, function = SCRIPTS[name].partition(":")
    return getattr(importlib.import_module(module), function)


def test_every_console_script_is_listed_here():
    assert set(SCRIPTS) == set(OVERRIDES)


@pytest.mark.parametrize("name", sorted(OVERRIDES))
def test_every_console_script_is_a_hydra_app_that_takes_overrides(name, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    main = script_main(name)
    assert main.__wrapped__.__module__ == main.__module__  # hydra.main wraps the task function
    override, key, value = OVERRIDES[name]
    run_main(main, "--cfg", "job", override)
    assert yaml.safe_load(capsys.readouterr().out)[key] == value
    with pytest.raises(SystemExit) as exit:
        run_main(main, "--help")
    assert exit.value.code == 0 and "== Config ==" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []  # no output folder


@pytest.mark.parametrize("name", sorted(OVERRIDES))
def test_help_opens_with_the_usage(name, capsys):
    main = script_main(name)
    with pytest.raises(SystemExit):
        run_main(main, "--help")
    assert capsys.readouterr().out.startswith(f"usage: python -m {main.__module__} ")


def test_evaluate_help_lists_only_what_evaluate_reads(capsys):
    with pytest.raises(SystemExit):
        run_main(script_main("fusionlab-evaluate"), "--help")
    shown = capsys.readouterr().out
    assert "run_dir: ???" in shown and "test_images: clean" in shown
    assert "fusion:" not in shown and "experiment:" not in shown and "Config groups" not in shown


@pytest.mark.parametrize("arguments, message", [
    ([], r"missing ckpt=<path>"),
    (["ckpt=best.ckpt"], r'missing text="\.\.\." or inputs=<file.jsonl>'),
    (["ckpt=best.ckpt", "text=a b", "inputs=in.jsonl"], "text and inputs exclude each other"),
])
def test_predict_names_the_missing_key_and_shows_the_usage(arguments, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=message) as exit:
        run_main(predict.main, *arguments)
    assert predict.USAGE in str(exit.value.code) and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("arguments, message", [
    ([], r"missing runs=<multirun dir>"),
    (["runs=[]"], r"runs=\[\] names no directory"),
    (["runs=[multirun/a,multirun/b]"], r"missing out=<dir>: several runs directories"),
])
def test_report_names_the_missing_key_and_shows_the_usage(arguments, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=message) as exit:
        run_main(report.main, *arguments)
    assert report.USAGE in str(exit.value.code) and list(tmp_path.iterdir()) == []
