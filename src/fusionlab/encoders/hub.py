"""Fail fast, and say what to do, when a named pretrained model needs a network that is absent."""

from __future__ import annotations

import os
import socket


class EncoderUnavailableError(RuntimeError):
    pass


def offline_requested() -> bool:
    return any(os.environ.get(v, "").lower() in {"1", "true", "yes"} for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def require_network(host: str, what: str, offline_choices: str) -> None:
    """Raise a clear error unless ``host`` answers within a few seconds and offline mode is off."""
    reason = "offline mode is on (HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE)" if offline_requested() else None
    if reason is None:
        try:
            socket.create_connection((host, 443), timeout=3).close()
        except OSError as error:
            reason = f"{host} is unreachable ({error})"
    if reason:
        raise EncoderUnavailableError(
            f"{what} is not in the local cache and cannot be downloaded: {reason}. "
            f"Use an offline encoder ({offline_choices}) or download it once where a network exists."
        )
