"""A run's name: what the run *is*, never when it started.

Fusion, task, dataset and seed, plus every other command-line override (Hydra's ``override_dirname``,
less the keys listed in ``hydra.job.config.override_dirname.exclude_keys`` that do not change a result).
So the runs of a sweep over ``optim.lr`` get one folder each, and re-running the same command (or a
SLURM requeue) finds the same folder.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 200  # characters of a run folder's name (file systems allow 255) before its tail becomes a hash
# Characters a Hydra override value may hold unquoted, so that `run_dir=<folder>` works as typed.
_UNSAFE = re.compile(r"[^A-Za-z0-9._+\-@]")


def run_name(fusion: str, task: str, dataset: str, seed: int, overrides: str = "") -> str:
    """``<fusion>_<task>_<dataset>_s<seed>[_<key>-<value>_<key>-<value>...]``, safe as one folder name and
    as an unquoted Hydra override value (``run_dir=...``). Overrides that do not fit, or that needed other
    characters replaced, end in a hash of the exact text, so two different override strings never share
    a name."""
    name = f"{fusion}_{task}_{dataset}_s{seed}"
    if not overrides:
        return name
    readable = overrides.replace("=", "-").replace(",", "_")  # key-value_key-value
    safe = _UNSAFE.sub("_", readable)
    if safe != readable or len(name) + 1 + len(safe) > MAX_NAME:
        digest = hashlib.sha1(overrides.encode()).hexdigest()[:8]
        safe = f"{safe[:MAX_NAME - len(name) - 10]}_{digest}"
    return f"{name}_{safe}"
