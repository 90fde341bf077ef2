"""The config resolvers fusionlab's YAML uses, registered when the package is imported."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf

from fusionlab.run.identity import run_name


def sweep_name() -> str | None:
    """The sweep a run belongs to (its multirun directory's name), or None outside a sweep."""
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return Path(HydraConfig.get().sweep.dir).name
    return None


def wandb_tags(tags: list, extra: list) -> list[str]:
    """``${wandb_tags:tags,extra}``: ``tags``, ``sweep:<multirun directory>`` inside a sweep, then ``extra``
    (the run's own ``tags``)."""
    sweep = sweep_name()
    return [str(tag) for tag in [*tags, *([f"sweep:{sweep}"] if sweep else []), *extra]]


def folder_name(path: str) -> str:
    """``${folder_name:${output_dir}}``: the run folder's name, which is the run's identity (fusionlab.run.identity)."""
    return Path(path).name


def without_seed(name: str, seed: int) -> str:
    """``name`` less its ``_s<seed>`` part: the seeds of one configuration share it (a W&B group)."""
    return re.sub(rf"_s{re.escape(str(seed))}(?=_|$)", "", name, count=1)


def on_a_terminal() -> bool:
    """Whether standard output is a terminal: progress bars only there (off in SLURM jobs, logs, CI)."""
    return sys.stdout.isatty()


def if_in(item, collection, then, otherwise):
    """``${if_in:item,collection,then,otherwise}``: ``then`` when ``item`` is in ``collection``, else ``otherwise``
    (a method's declaration that depends on its options, conf/fusion/mase.yaml)."""
    return then if item in collection else otherwise


OmegaConf.register_new_resolver("wandb_tags", wandb_tags, replace=True)
OmegaConf.register_new_resolver("folder_name", folder_name, replace=True)
OmegaConf.register_new_resolver("without_seed", without_seed, replace=True)
OmegaConf.register_new_resolver("run_name", run_name, replace=True)  # a run folder's name: its identity
OmegaConf.register_new_resolver("on_a_terminal", on_a_terminal, replace=True)
OmegaConf.register_new_resolver("if_in", if_in, replace=True)
