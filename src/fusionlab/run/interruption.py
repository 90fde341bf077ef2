"""A run or sweep stopped by SIGTERM (what SLURM sends before a requeue or at the time limit).

Lightning stops training at the signal by raising ``SIGTERMException``, a ``SystemExit`` with no code, so
the process would exit 0 and a sweep's later runs would never start, unrecorded. Here the stopped run
raises ``RunInterrupted`` (its resume point is kept: the same command continues it), every later run of
the same sweep records ``not_started.json`` (``RunFolder.not_started``) instead of training, and the
process exits non-zero.
"""

from __future__ import annotations

_STOPPED: list[str] = []  # why this process's sweep stopped (empty while it has not)


class RunInterrupted(Exception):
    """A run stopped by a signal, or not started because an earlier run of its sweep was."""


def stop(reason: str) -> None:
    _STOPPED.append(reason)


def stopped_by() -> str | None:
    return _STOPPED[0] if _STOPPED else None
