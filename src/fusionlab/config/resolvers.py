"""The config resolvers fusionlab's YAML uses, registered when the package is imported."""

from __future__ import annotations

import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf

from fusionlab.run.identity import run_name


def sweep_group() -> str:
    """The sweep a run belongs to (its multirun directory's name), or ``single``."""
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return Path(HydraConfig.get().sweep.dir).name
    return "single"


def on_a_terminal() -> bool:
    """Whether standard output is a terminal: progress bars only there (off in SLURM jobs, logs, CI)."""
    return sys.stdout.isatty()


def if_in(item, collection, then, otherwise):
    """``${if_in:item,collection,then,otherwise}``: ``then`` when ``item`` is in ``collection``, else ``otherwise``
    (a method's declaration that depends on its options, conf/fusion/mase.yaml)."""
    return then if item in collection else otherwise


OmegaConf.register_new_resolver("sweep_group", sweep_group, replace=True)
OmegaConf.register_new_resolver("run_name", run_name, replace=True)  # a run folder's name: its identity
OmegaConf.register_new_resolver("on_a_terminal", on_a_terminal, replace=True)
OmegaConf.register_new_resolver("if_in", if_in, replace=True)
