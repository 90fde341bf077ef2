"""Which keys of a resolved run config can change its result: one list for the run's fingerprint and the
report's rows.

The keys that cannot are listed once, in ``conf/config.yaml`` (``hydra.job.config.override_dirname.
exclude_keys``, which also keeps them out of run folder names), less the four that name a run (fusion,
task, dataset, seed), plus the outputs written beside a run and file locations (the data decides by its
SHA-256, ``fusionlab.run.fingerprint``).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from omegaconf import OmegaConf

NAME_KEYS = ("fusion", "task", "dataset", "seed")  # named apart from the overrides: they do change a result
ALSO_NEUTRAL = ("callbacks", "data.cache_dir")  # outputs written beside the run; a cache's location
PATH_PARTS = ("root", "dir", "mapping", "splits", "groups")  # dataset keys that are file locations


def flatten(config, prefix: str = "") -> dict[str, str]:
    """``{dotted.key: value as text}`` of a nested config."""
    if isinstance(config, dict):
        return {k: v for key, value in config.items() for k, v in flatten(value, f"{prefix}{key}.").items()}
    return {prefix[:-1]: json.dumps(config, sort_keys=True) if isinstance(config, list) else str(config)}


@cache
def neutral_keys() -> tuple[str, ...]:
    """The config keys (and their subkeys) that change no result."""
    from fusionlab import CONF  # the package imports this package first

    exclude = OmegaConf.load(Path(CONF) / "config.yaml").hydra.job.config.override_dirname.exclude_keys
    return tuple(key for key in exclude if key not in NAME_KEYS) + ALSO_NEUTRAL


def is_neutral(key: str, also: tuple[str, ...] = ()) -> bool:
    """Whether the dotted ``key`` changes no result (or lies under one of ``also``)."""
    return (any(key == k or key.startswith(k + ".") for k in (*neutral_keys(), *also))
            or key.startswith("dataset.") and any(part in key for part in PATH_PARTS))


def result_config(config: dict, also: tuple[str, ...] = ()) -> dict[str, str]:
    """The resolved config's settings that can change a result (less ``also``), flattened."""
    return {key: value for key, value in flatten(config).items() if not is_neutral(key, also)}
