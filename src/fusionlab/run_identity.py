"""What a run is, where it lives, and what state its folder is in.

A run's folder is named by what the run *is*, never by when it started: fusion, task, dataset and
seed, plus every other command-line override (Hydra's ``override_dirname``, less the keys listed in
``hydra.job.config.override_dirname.exclude_keys`` that do not change a result). So the runs of a
sweep over ``optim.lr`` get one folder each, and re-running the same command (or a SLURM requeue)
finds the same folder: ``resume=auto`` then continues an interrupted run from its ``last.ckpt`` and
leaves a finished one alone. A lock file keeps two processes from writing one folder at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import socket
import time
from pathlib import Path

from fusionlab.atomic import write_text_atomically
from fusionlab.records import CorruptRecordError, load_checkpoint, read_json

log = logging.getLogger(__name__)
MAX_NAME = 200  # characters of a run folder's name (file systems allow 255) before its tail becomes a hash
# Characters a Hydra override value may hold unquoted, so that `run_dir=<folder>` works as typed.
_UNSAFE = re.compile(r"[^A-Za-z0-9._+\-@]")
RUN_FILE, RESULTS_FILE, FAILED_FILE, LOCK_FILE = "run.json", "results.json", "failed.json", ".lock"
RESUME_CHOICES = ("auto", "true", "false", "force", "<path to a checkpoint>")


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


class RunInProgressError(RuntimeError):
    pass


class RunLock:
    """An exclusive lock on a run folder, held while the run trains. The operating system drops it when
    the process dies (``kill -9``, preemption), so a stale lock never blocks a re-run."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_FILE
        self._handle = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunInProgressError(f"{self.path.parent} is in use by {holder}: two runs with the same identity "
                                     f"cannot share a folder; wait for it, or change an override") from None
        handle.truncate(0)
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()


def is_locked(run_dir: Path) -> bool:
    """Whether a live process holds the run's lock (the report tells running from killed runs by it)."""
    path = Path(run_dir) / LOCK_FILE
    if not path.exists():
        return False
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def last_checkpoint(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints" / "last.ckpt"


def resume_from(resume, run_dir: Path) -> str | None:
    """The checkpoint this run continues from, after checking the folder's state against ``resume``:

    - ``auto`` (default): an interrupted run's ``last.ckpt`` when there is one, else a fresh start (also
      when it is corrupt: a warning names it);
    - ``force``: as ``auto``, also when the run's fingerprint changed (``fusionlab.fingerprint``);
    - ``true``: that ``last.ckpt``, which must exist and be readable;
    - ``false``: a fresh start, refused when the folder holds an earlier attempt (nothing is overwritten);
    - a path: that checkpoint.

    A finished run never gets here (``train.run`` returns its recorded results)."""
    last = last_checkpoint(run_dir)
    choice = str(resume).lower()
    if choice in ("auto", "force"):
        if not last.is_file():
            return None
        try:
            checkpoint_position(last)
        except CorruptRecordError as error:
            log.warning("%s; starting afresh", error)
            return None
        return str(last)
    if choice == "true":
        if not last.is_file():
            raise FileNotFoundError(f"resume=true: no checkpoint at {last} (runs write checkpoints/last.ckpt every "
                                    f"checkpoint_every_n_steps steps; resume=auto starts afresh when there is none)")
        checkpoint_position(last)  # a corrupt one stops here, named
        return str(last)
    if choice == "false":
        leftovers = [p.name for p in (Path(run_dir) / "checkpoints").glob("*.ckpt")]
        if leftovers:
            raise FileExistsError(f"resume=false but {run_dir} holds an earlier attempt ({', '.join(sorted(leftovers))}): "
                                  f"remove the folder to start over, or use resume=auto to continue it")
        return None
    if not Path(resume).is_file():
        raise FileNotFoundError(f"resume={resume}: no such checkpoint (expected one of {RESUME_CHOICES})")
    return str(resume)


def attempts(run_dir: Path) -> list[dict]:
    """``run.json``: every attempt at the run, oldest first (a corrupt one is set aside with a warning)."""
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        return []
    try:
        recorded = read_json(path, "its attempts are not kept (the folder's other files are)")
    except CorruptRecordError as error:
        log.warning("%s", error)
        return []
    return recorded if isinstance(recorded, list) else [recorded]  # one attempt, as written before the list


def mark_started(run_dir: Path, config: dict, resumed_from: str | None, fingerprint: dict) -> None:
    """Append this attempt to ``run.json``: its config and fingerprint (``fusionlab.fingerprint``). A folder
    holding it but neither ``results.json`` nor ``failed.json`` is a run that was killed (or is still
    training): the report counts it."""
    record = {"status": "started", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "pid": os.getpid(),
              "host": socket.gethostname(), "resumed_from": resumed_from,
              **{key: config[key]["name"] for key in ("fusion", "task", "dataset")}, "seed": config["seed"],
              "fingerprint": fingerprint, "config": config}
    write_attempts(run_dir, [*attempts(run_dir), record])


def write_attempts(run_dir: Path, records: list[dict]) -> None:
    write_text_atomically(Path(run_dir) / RUN_FILE, json.dumps(records, indent=2))


def finished_results(run_dir: Path) -> dict | None:
    """The run's ``results.json``; None when there is none, or when it is corrupt (a warning names it)."""
    path = Path(run_dir) / RESULTS_FILE
    if not path.is_file():
        return None
    try:
        return read_json(path, "the run is treated as unfinished and trained again")
    except CorruptRecordError as error:
        log.warning("%s", error)
        return None


def checkpoint_position(path: str | Path) -> tuple[int, int]:
    """(epoch, global step) a Lightning checkpoint was saved at."""
    saved = load_checkpoint(path, "remove it to start the run afresh", mmap=True)
    return int(saved["epoch"]), int(saved["global_step"])
