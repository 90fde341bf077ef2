"""One process at a time in a run folder."""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path


class RunInProgressError(RuntimeError):
    pass


class RunLock:
    """An exclusive lock on a run folder (its ``.lock`` file), held while the run trains. The operating
    system drops it when the process dies (``kill -9``, preemption), so a stale lock never blocks a re-run."""

    def __init__(self, path: Path):
        self.path = Path(path)
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
