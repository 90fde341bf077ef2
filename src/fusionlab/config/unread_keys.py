"""Keys that nothing reads: Hydra's ``+key=value`` adds a key that no config declared, and a typo
(``+optim.lrr=0.5``, ``+trainer.max_epoch=3``) would otherwise be ignored, or fail late with a raw
``TypeError`` once a run folder exists. Refused here, at composition, naming the key and what is read.

Checked before Hydra creates a run folder (``RefuseUnreadKeys``, a Hydra callback of ``conf/config.yaml``) and
again by every run (``fusionlab.config.checks.check_settings``, also from Python). Checked: the top-level keys (those of ``conf/config.yaml`` and its groups), ``optim`` (the keywords of
``fusionlab.model.FusionModel``), and every node built from a ``_target_`` (trainer, data, loggers,
callbacks, encoders, task, readers: the keywords its target takes). A fusion method's options are checked
against its schema (``fusionlab.config.checks.check_options``).
"""

from __future__ import annotations

import difflib
import inspect
from functools import cache
from pathlib import Path

from hydra.experimental.callback import Callback
from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf

INSTANTIATE_KEYS = {"_target_", "_recursive_", "_convert_", "_partial_", "_args_"}
SCHEMA_CHECKED = ("fusion", "hydra")  # fusion.module: its schema; hydra: Hydra's own


@cache
def top_level_keys() -> frozenset[str]:
    """The keys ``conf/config.yaml`` declares, and its config groups (each may set its own key)."""
    from fusionlab import CONF  # the package imports this package first

    conf = Path(CONF)
    groups = {path.name for path in conf.iterdir() if path.is_dir()}
    return (frozenset(OmegaConf.load(conf / "config.yaml").keys()) | groups) - {"defaults"}


def accepted_keywords(target) -> set[str] | None:
    """The keywords ``target`` (a class or function) takes; None when it takes any (``**kwargs``)."""
    parameters = inspect.signature(target).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters if p.kind is not inspect.Parameter.VAR_POSITIONAL}


def _refuse(key: str, unread: str, accepted: set[str], reader: str) -> None:
    close = difflib.get_close_matches(unread, sorted(accepted), n=1)
    hint = f"; did you mean {key.rsplit('.', 1)[0] + '.' if '.' in key else ''}{close[0]}?" if close else ""
    raise ValueError(f"{key}: nothing reads this key{hint} ({reader} takes {', '.join(sorted(accepted))})")


def _check_node(node: DictConfig, where: str) -> None:
    """Every ``_target_`` node below ``node``, each against its target's keywords."""
    target = node.get("_target_") if "_target_" in node else None
    if target is not None:
        accepted = accepted_keywords(get_object(str(target)))
        if accepted is not None:
            for key in node.keys():
                if key not in accepted and key not in INSTANTIATE_KEYS:
                    _refuse(f"{where}.{key}", str(key), accepted, str(target))
    for key in node.keys():
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not child._is_none() and not child._is_missing():
            _check_node(child, f"{where}.{key}")


def refuse_unread_keys(cfg: DictConfig) -> None:
    """Raise ``ValueError`` for the first key of a composed run config that nothing reads."""
    from fusionlab.model import FusionModel  # the model imports the tasks; this module is imported before them

    known = top_level_keys()
    for key in cfg.keys():
        if key not in known:
            _refuse(str(key), str(key), set(known), "the run config (conf/config.yaml and its groups)")
    optim = accepted_keywords(FusionModel) - {"method", "task"}
    for key in cfg.optim.keys():
        if key not in optim:
            _refuse(f"optim.{key}", str(key), optim, "fusionlab.model.FusionModel")
    for key in cfg.keys():
        node = cfg._get_node(key)
        if key not in SCHEMA_CHECKED and isinstance(node, DictConfig) and not node._is_none():
            _check_node(node, str(key))


class RefuseUnreadKeys(Callback):
    """Before Hydra creates the run's (or the sweep's) folder: a command with a key nothing reads leaves none.
    It exits (Hydra turns a callback's exception into a warning and goes on)."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        _exit_on_unread(config)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        _exit_on_unread(config)


def _exit_on_unread(config: DictConfig) -> None:
    try:
        refuse_unread_keys(config)
    except ValueError as error:
        raise SystemExit(f"ValueError: {error}") from None
