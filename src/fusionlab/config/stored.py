"""A run rebuilt from the config a file holds (a checkpoint's, a ``results.json``'s): untrusted input.

Hydra's ``instantiate`` calls whatever a ``_target_`` names (its blocklist stops only ``os.system``-like
targets), so a stored config is never instantiated. Its names (``fusion.name``, ``task.name``,
``dataset.name``) must be options of the project's own config groups, and they select the config composed
from conf/. The stored config gives values only, each checked onto that config: the fusion's options by
the method's schema (fusionlab.schema), every other setting by being one conf/ has, of the same kind
(a mapping, a list or a value). A key ``instantiate`` reads (``_target_``, ``_args_``, ...) that differs
from the composed config's is refused naming it, and so is an interpolation (a run's config is stored
resolved). The stored trainer, logger and callbacks are not read: a rebuild trains nothing.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from fusionlab import CONF
from fusionlab.storage.records import load_checkpoint

INSTANTIATE_KEYS = frozenset({"_target_", "_args_", "_partial_", "_recursive_", "_convert_"})
NAMED_GROUPS = ("fusion", "task", "dataset")  # a stored <group>.name selects conf/<group>/<name>.yaml
NOT_READ = ("trainer", "logger", "callbacks")
FUSION_IDENTITY = ("name", "family", "declaration")  # what the registered fusion config states, never the file


def described_checkpoint(checkpoint: str | Path) -> dict:
    """A checkpoint's contents, loaded without unpickling code (``weights_only``), with its ``fusionlab``
    entry: the label vocabulary and the run config (untrusted: rebuild through ``trusted_config``)."""
    saved = load_checkpoint(checkpoint, "train the run again (its command continues or restarts it), or give "
                                        "another checkpoint")
    if "fusionlab" not in saved:
        raise ValueError(f"{checkpoint}: not a fusionlab checkpoint that describes itself (no 'fusionlab' entry "
                         f"with the config and label vocabulary); train the run again with this version")
    return saved


class _Refused(Exception):
    """What a stored config holds that a rebuild does not take (the message names the key)."""


def trusted_config(stored: dict, source: str) -> DictConfig:
    """The config that rebuilds the run ``stored`` describes: conf/ composed by its names, its values checked
    onto it. ``source`` (the file read) starts every message."""
    if not isinstance(stored, dict):
        raise ValueError(f"{source}: the stored run config is a {type(stored).__name__}, expected a mapping")
    read = {key: value for key, value in stored.items() if key not in NOT_READ}
    registered = _compose_registered(read, source)
    try:
        _refuse_code(read, registered, "", resolve=False)  # names a foreign target before any other finding
        values = _values(read, registered, "")
        values["fusion"] = {key: value for key, value in values["fusion"].items() if key not in FUSION_IDENTITY}
        if isinstance(values["fusion"].get("base"), dict):  # PMEI's base: its name selected it, as the fusion's
            values["fusion"]["base"] = {key: value for key, value in values["fusion"]["base"].items()
                                        if key not in FUSION_IDENTITY}
        options = values["fusion"].pop("module", {})
        config = OmegaConf.merge(registered, values)  # struct: a setting conf/ lacks is refused
        with open_dict(config.fusion.module):  # open dicts of a schema take new keys
            config.fusion.module.merge_with(options)  # the method's schema checks every option
        _refuse_code(read, config, "", resolve=True)  # also below the nodes conf/ interpolates
    except OmegaConfBaseException as error:
        raise ValueError(f"{source}: {error.full_key}: {str(error).splitlines()[0]} (what conf/ and "
                         f"fusionlab.schema allow for fusion {registered.fusion.name})") from None
    except _Refused as refused:
        raise ValueError(f"{source}: {refused}") from None
    return config


def _compose_registered(stored: dict, source: str) -> DictConfig:
    """conf/config.yaml with the fusion, task and dataset the stored config names (and PMEI's base), each a
    registered option."""
    with nullcontext() if GlobalHydra.instance().is_initialized() else \
            initialize_config_dir(config_dir=CONF, version_base="1.3"):  # predict and evaluate compose from conf/ too
        overrides = [_registered(group, stored.get(group), group, source) for group in NAMED_GROUPS]
        base = stored["fusion"].get("base")  # PMEI's base: a fusion config of its own (conf/fusion/base)
        if base is not None:
            overrides.append(_registered("fusion/base", base, "fusion.base", source))
        return compose(config_name="config", overrides=overrides)


def _registered(group: str, section, where: str, source: str) -> str:
    """``<group>=<name>`` for the name a stored section gives, refused unless it is an option of ``group``."""
    name = section.get("name") if isinstance(section, dict) else None
    options = GlobalHydra.instance().config_loader().get_group_options(group)
    if name not in options:
        raise ValueError(f"{source}: {where}.name={name!r} is not a registered {group} "
                         f"(conf/{group}: {', '.join(options)})")
    return f"{group}={name}"


def _kind(value) -> str | None:
    if isinstance(value, (dict, DictConfig)):
        return "a mapping"
    if isinstance(value, (list, ListConfig)):
        return "a list"
    return None if value is None else "a value"


def _values(stored: dict, registered: DictConfig | None, path: str) -> dict:
    """``stored`` less the keys ``instantiate`` reads and the nodes the registered config interpolates (they
    follow the values taken: a dataset's reader follows its ``layout``); a value of another kind than the
    registered one is refused."""
    values = {}
    for key, value in stored.items():
        where, known = f"{path}{key}", isinstance(registered, DictConfig) and key in registered
        interpolated = known and OmegaConf.is_interpolation(registered, key)
        if key in INSTANTIATE_KEYS or (interpolated and isinstance(value, dict)):
            continue
        child = registered[key] if known and not interpolated else None
        if None not in (_kind(child), _kind(value)) and _kind(child) != _kind(value):
            raise _Refused(f"{where} is {_kind(value)}, but the registered config holds {_kind(child)} there")
        values[key] = _values(value, child, f"{where}.") if isinstance(value, dict) else value
    return values


def _refuse_code(stored, config, path: str, resolve: bool) -> None:
    """Every key ``instantiate`` reads in ``stored`` holds what ``config`` holds there, and no string of
    ``stored`` is an interpolation. Without ``resolve``, what ``config`` interpolates is not compared."""
    if isinstance(stored, str) and "${" in stored:
        raise _Refused(f"{path.rstrip('.')}={stored!r} is an interpolation; a run's config is stored resolved")
    items = stored.items() if isinstance(stored, dict) else enumerate(stored) if isinstance(stored, list) else ()
    for key, value in items:
        held = None
        if isinstance(config, DictConfig) and key in config:
            if not resolve and OmegaConf.is_interpolation(config, key):
                continue
            held = config[key]
        elif isinstance(config, ListConfig) and key < len(config):
            held = config[key]
        if key in INSTANTIATE_KEYS and value != held:
            registered = "nothing" if held is None else repr(held)
            raise _Refused(f"{path}{key}={value!r}, but the registered config holds {registered} there: a config "
                           f"read from a file never chooses what is instantiated")
        _refuse_code(value, held, f"{path}{key}.", resolve)
