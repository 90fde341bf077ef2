"""The run folder and its lifecycle, in one place: fusionlab's code creates, rewrites and deletes the files of a
run folder only here (Lightning writes its checkpoints and logs, Hydra its ``.hydra/`` and ``train.log``,
where this folder tells them).

A run's folder is named by its identity (``fusionlab.run.identity``): re-running the same command finds
it. Its life: locked while a process trains in it (``.lock``); each attempt appended to ``run.json`` with
its config and fingerprint (``fusionlab.run.fingerprint``); a resume point (``checkpoints/last.ckpt``,
which also carries the fingerprint it was trained under); then one ending, written atomically:
``results.json`` (after which ``last.ckpt`` is removed; ``debug_results.json`` for a debug run), ``failed.json``,
or ``not_started.json`` for a run of a sweep stopped before it. A folder holding ``run.json`` alone is a run that was killed (or is
still training).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from fusionlab.run.fingerprint import fingerprint, finished_attempt, refuse_changed
from fusionlab.run.lock import RunLock
from fusionlab.storage.atomic import write_text_atomically
from fusionlab.storage.records import CorruptRecordError, load_checkpoint, read_json

log = logging.getLogger(__name__)
RUN_FILE, RESULTS_FILE, FAILED_FILE, NOT_STARTED_FILE = "run.json", "results.json", "failed.json", "not_started.json"
DEBUG_RESULTS_FILE = "debug_results.json"  # a debug run's ending (conf/debug): no command counts it as a result
RESUME_CHOICES = ("auto", "true", "false", "force", "<path to a checkpoint>")


@dataclass
class Attempt:
    """This process's attempt at the run: its config, fingerprint, resume point and, when it continues an
    earlier attempt without ``resume=force``, that attempt's record (its data is compared once read)."""
    config: dict
    fingerprint: dict
    resumed_from: str | None
    continues: dict | None


class RunFolder:
    """``writer``: whether this process writes the folder's files (rank zero under DDP; the others only read)."""

    def __init__(self, path: str | Path, writer: bool = True):
        self.path = Path(path)
        self.writer = writer

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.ckpt"

    def lock(self) -> RunLock:
        return RunLock(self.path / ".lock")

    # --- reading the folder's state ------------------------------------------------------------------------

    def finished(self) -> dict | None:
        """The run's ``results.json``; None when there is none, or when it is corrupt (a warning names it)."""
        path = self.path / RESULTS_FILE
        if not path.is_file():
            return None
        try:
            return read_json(path, "the run is treated as unfinished and trained again")
        except CorruptRecordError as error:
            log.warning("%s", error)
            return None

    def attempts(self) -> list[dict]:
        """``run.json``: every attempt at the run, oldest first (a corrupt one is set aside with a warning)."""
        path = self.path / RUN_FILE
        if not path.is_file():
            return []
        try:
            recorded = read_json(path, "its attempts are not kept (the folder's other files are)")
        except CorruptRecordError as error:
            log.warning("%s", error)
            return []
        return recorded if isinstance(recorded, list) else [recorded]  # one attempt, as written before the list

    def refuse_another_run(self, finished: dict, config: dict, data: dict | None, code: dict) -> None:
        """Stop when the finished run the folder holds has another config or data than ``config``'s."""
        now = {"config": config, "fingerprint": fingerprint(config, data, code)}
        refuse_changed(self.path, finished_attempt(finished), now, ("config", "data"), "finished")

    # --- an attempt ------------------------------------------------------------------------------------------

    def start(self, config: dict, code: dict, resume) -> Attempt:
        """Choose where this attempt starts (``resume``), refuse to continue one whose config or code changed
        (unless ``resume=force``), and append the attempt to ``run.json``."""
        resumed_from = self.resume_point(resume)
        attempt = Attempt(config, fingerprint(config, None, code), resumed_from, None)
        if resumed_from is not None and str(resume).lower() != "force":
            attempt.continues = self._continued(resumed_from)
        if attempt.continues is not None:
            refuse_changed(self.path, attempt.continues, vars(attempt), ("config", "code"), "interrupted")
        self._append_attempt({
            "status": "started", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "pid": os.getpid(),
            "host": socket.gethostname(), "resumed_from": resumed_from,
            **{key: config[key]["name"] for key in ("fusion", "task", "dataset")}, "seed": config["seed"],
            "fingerprint": attempt.fingerprint, "config": config})
        return attempt

    def data_read(self, attempt: Attempt, data: dict[str, str]) -> None:
        """The SHA-256 of the split files this attempt read (by split), into its fingerprint and ``run.json``;
        a continued attempt whose data changed is refused."""
        attempt.fingerprint["data"] = data
        if self.writer:
            recorded = self.attempts()
            recorded[-1]["fingerprint"] = attempt.fingerprint
            self._write(RUN_FILE, json.dumps(recorded, indent=2))
        if attempt.continues is not None:
            refuse_changed(self.path, attempt.continues, vars(attempt), ("data",), "interrupted")

    def resume_point(self, resume) -> str | None:
        """The checkpoint this attempt continues from, after checking the folder's state against ``resume``:

        - ``auto`` (default): an interrupted run's ``last.ckpt`` when there is one, else a fresh start (also
          when it is corrupt: a warning names it);
        - ``force``: as ``auto``, also when the run's fingerprint changed;
        - ``true``: that ``last.ckpt``, which must exist and be readable;
        - ``false``: a fresh start, refused when the folder holds an earlier attempt (nothing is overwritten);
        - a path: that checkpoint.

        A fresh start clears what an earlier attempt left in ``checkpoints/``."""
        choice = str(resume).lower()
        if choice in ("auto", "force", "true"):
            last = self.last_checkpoint
            if not last.is_file() and choice == "true":
                raise FileNotFoundError(f"resume=true: no checkpoint at {last} (runs write checkpoints/last.ckpt "
                                        f"every checkpoint_every_n_steps steps; resume=auto starts afresh when there "
                                        f"is none)")
            if last.is_file():
                try:
                    checkpoint_position(last)
                    return str(last)
                except CorruptRecordError as error:
                    if choice == "true":
                        raise
                    log.warning("%s; starting afresh", error)
            self._clear_checkpoints()
            return None
        if choice == "false":
            leftovers = sorted(p.name for p in self.checkpoints.glob("*.ckpt"))
            if leftovers:
                raise FileExistsError(f"resume=false but {self.path} holds an earlier attempt ({', '.join(leftovers)}):"
                                      f" remove the folder to start over, or use resume=auto to continue it")
            return None
        if not Path(resume).is_file():
            raise FileNotFoundError(f"resume={resume}: no such checkpoint (expected one of {RESUME_CHOICES})")
        return str(resume)

    def _continued(self, resumed_from: str) -> dict | None:
        """The record of the attempt a resume continues: the fingerprint its own ``last.ckpt`` was trained
        under (kept also when ``run.json`` is lost), else ``run.json``'s last attempt. A checkpoint given as
        a path is another run's: only the folder's attempts speak for this run."""
        if Path(resumed_from) == self.last_checkpoint:
            stored = load_checkpoint(resumed_from, "remove it to start the run afresh", mmap=True).get("fusionlab", {})
            if stored.get("fingerprint") and stored.get("config"):
                return {"config": stored["config"], "fingerprint": stored["fingerprint"]}
        return next((a for a in reversed(self.attempts()) if a.get("fingerprint")), None)

    def _clear_checkpoints(self) -> None:
        if self.writer and self.checkpoints.exists():
            log.warning("%s: an earlier attempt left no resume point; starting afresh", self.path)
            shutil.rmtree(self.checkpoints)

    # --- endings ---------------------------------------------------------------------------------------------

    def finish(self, results: dict, debug: str | None = None) -> Path:
        """``results.json``, whole or not at all; only then is the resume point removed (and an earlier
        attempt's ``failed.json``, now superseded). A ``debug`` run (``debug_mode``) writes
        ``debug_results.json`` instead, which no resume, evaluation or report takes for a finished run."""
        name = RESULTS_FILE if debug is None else DEBUG_RESULTS_FILE
        path = self._write(name, json.dumps({**results, "debug_mode": debug} if debug else results, indent=2))
        if self.writer:
            self.last_checkpoint.unlink(missing_ok=True)
            (self.path / FAILED_FILE).unlink(missing_ok=True)
        return path

    def fail(self, config: dict, error: BaseException) -> Path:
        """``failed.json``: which run failed and why (the report counts these per fusion x task x dataset)."""
        return self._ending(config, FAILED_FILE, "failed", error=f"{type(error).__name__}: {error}",
                            traceback="".join(traceback.format_exception(error)))

    def not_started(self, config: dict, reason: str) -> Path:
        """``not_started.json``: a run of a stopped sweep that never trained (the report counts it)."""
        return self._ending(config, NOT_STARTED_FILE, "not started", reason=reason)

    def write(self, name: str, text: str) -> Path:
        """One of the run's outputs beside its records (predictions, evaluations, maps), written atomically."""
        return self._write(name, text)

    def figure(self, name: str) -> Path:
        """Where a figure of the run is drawn (a plotting library writes it): the folder exists once asked."""
        if self.writer:
            self.path.mkdir(parents=True, exist_ok=True)
        return self.path / name

    def _ending(self, config: dict, name: str, status: str, **details) -> Path:
        record = {"status": status, **{key: config[key]["name"] for key in ("fusion", "task", "dataset")},
                  "seed": config["seed"], **details, "config": config}
        return self._write(name, json.dumps(record, indent=2))

    def _append_attempt(self, record: dict) -> None:
        if self.writer:
            self._write(RUN_FILE, json.dumps([*self.attempts(), record], indent=2))

    def _write(self, name: str, text: str) -> Path:
        path = self.path / name
        if self.writer:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomically(path, text)
        return path


def checkpoint_position(path: str | Path) -> tuple[int, int]:
    """(epoch, global step) a Lightning checkpoint was saved at."""
    saved = load_checkpoint(path, "remove it to start the run afresh", mmap=True)
    return int(saved["epoch"]), int(saved["global_step"])
