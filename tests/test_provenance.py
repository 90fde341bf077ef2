"""A published section's training commands run as written: the seeds of one configuration merge into Hydra's sweep
``seed=1,2,3``, which only a multirun accepts, so the command carries ``-m``."""

from __future__ import annotations

import shlex

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser

from fusionlab.analysis.cells import Cell
from fusionlab.analysis.results_doc import provenance
from tests.conftest import compose_config

COMMAND = "python -m fusionlab.train fusion=concat encoder=tiny seed={seed} optim.lr=0.01"


def _cell(fusion: str, seeds: list[int]) -> Cell:
    runs = [{"seed": seed, "run": {"command": COMMAND.format(seed=seed).replace("concat", fusion), "device": "cpu",
                                   "code": {"commit": "0123456789abcdef", "dirty": False}}} for seed in seeds]
    return Cell(fusion, ("synthetic", "mner", 1.0), fusion, runs=runs)


def _jobs(command: str) -> list[list[str]]:
    """The runs ``command`` makes, one override list each, as Hydra's basic sweeper splits a multirun."""
    words = shlex.split(command)
    assert words[:3] == ["python", "-m", "fusionlab.train"]
    if words[3] != "-m":
        return [words[3:]]
    (batch,) = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(words[4:]), None)
    return batch


def test_a_sweeps_merged_seeds_run_as_written_with_m():
    cells = {("concat", ("synthetic", "mner", 1.0)): _cell("concat", [3, 1, 2]),
             ("text_only", ("synthetic", "mner", 1.0)): _cell("text_only", [1])}
    sweep, single = provenance(cells)["commands"]
    assert sweep == "python -m fusionlab.train -m fusion=concat encoder=tiny seed=1,2,3 optim.lr=0.01"
    assert single == "python -m fusionlab.train fusion=text_only encoder=tiny seed=1 optim.lr=0.01"
    configs = [compose_config(job) for job in _jobs(sweep)]
    assert [(c.fusion.name, c.seed, c.optim.lr) for c in configs] == [("concat", s, 0.01) for s in (1, 2, 3)]
    (config,) = [compose_config(job) for job in _jobs(single)]
    assert (config.fusion.name, config.seed) == ("text_only", 1)


def test_a_command_recorded_with_plus_experiment_is_published_as_it_runs_today():
    cell = _cell("pmei", [1, 2])
    for run in cell.runs:
        run["run"]["command"] = f"python -m fusionlab.train +experiment=pmei_webnlg_star_cpu seed={run['seed']}"
    (command,) = provenance({("pmei", ("synthetic", "mner", 1.0)): cell})["commands"]
    assert command == "python -m fusionlab.train -m experiment=pmei_webnlg_star_cpu seed=1,2"
    configs = [compose_config(job + ["output_dir=/tmp/x"]) for job in _jobs(command)]
    assert [(c.dataset.name, c.seed) for c in configs] == [("webnlg_star", 1), ("webnlg_star", 2)]
