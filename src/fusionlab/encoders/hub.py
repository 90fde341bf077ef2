"""Fail clearly, and say what to do, when a named pretrained model is neither cached nor downloadable.

The libraries download it themselves (honouring HF_ENDPOINT, HTTPS_PROXY, HF_HUB_OFFLINE and their
caches); ``explain_unavailable`` turns their own offline, cache-miss and connection errors into one
``EncoderUnavailableError`` naming what was asked, why it failed and which offline encoders work.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.error import URLError
from urllib.parse import urlparse
from urllib.request import getproxies

from huggingface_hub import is_offline_mode
from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

OFFLINE_REASON = "offline mode is on (HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE)"
# What the libraries raise when a file is not cached and cannot be fetched: the Hub's errors (transformers
# re-raises them as OSError with the Hub's error as the cause) and torch.hub's urllib/socket ones.
UNAVAILABLE = (LocalEntryNotFoundError, OfflineModeIsEnabled, URLError, ConnectionError, TimeoutError)


class EncoderUnavailableError(RuntimeError):
    """A named pretrained model is not in the local cache and cannot be downloaded here."""


def unavailable(what: str, reason: str, offline_choices: str) -> EncoderUnavailableError:
    return EncoderUnavailableError(
        f"{what} is not in the local cache and cannot be downloaded: {reason}. "
        f"Use an offline encoder ({offline_choices}) or download it once where a network exists."
    )


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    """``error`` and the errors it was raised from, outermost first."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


@contextmanager
def explain_unavailable(what: str, source: str, offline_choices: str) -> Iterator[None]:
    """Run a download (``from_pretrained``, a torchvision weight) from ``source``; re-raise the libraries'
    "not cached and not downloadable" errors as ``EncoderUnavailableError``, any other error as it is."""
    try:
        yield
    except Exception as error:
        causes = list(_chain(error))
        if not any(isinstance(cause, UNAVAILABLE) for cause in causes):
            raise
        offline = is_offline_mode() or any(isinstance(cause, OfflineModeIsEnabled) for cause in causes)
        proxy = getproxies().get(urlparse(source).scheme)  # HTTPS_PROXY / HTTP_PROXY, as the libraries read them
        via = f" through the proxy {proxy}" if proxy else ""
        root = causes[-1]
        reason = OFFLINE_REASON if offline else f"{source} could not be reached{via} ({type(root).__name__}: {root})"
        raise unavailable(what, reason, offline_choices) from error
