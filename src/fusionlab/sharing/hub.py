"""Push an exported folder to the Hugging Face Hub (``huggingface_hub``: create the repo, upload the folder).
Offline (``HF_HUB_OFFLINE=1``), without a network or without a token it fails at once, naming the repo and
how to push the folder, which stays complete, later."""

from __future__ import annotations

from pathlib import Path

import httpx
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled


class PushError(RuntimeError):
    """The folder could not be pushed (the message says why and how to push it later)."""


def push_to_hub(folder: str | Path, repo_id: str) -> str:
    """Create ``repo_id`` (a model repo; kept if it exists) and upload ``folder`` to it; the commit's URL."""
    api = HfApi()
    try:
        api.create_repo(repo_id, repo_type="model", exist_ok=True)
        return api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="model",
                                 commit_message=f"fusionlab export of {Path(folder).name}").commit_url
    except (OSError, HfHubHTTPError, httpx.TransportError) as error:  # OfflineModeIsEnabled is a ConnectionError
        why = ("HF_HUB_OFFLINE is set" if isinstance(error, OfflineModeIsEnabled)
               else f"{type(error).__name__}: {str(error).strip().splitlines()[0]}")
        raise PushError(f"could not push {folder} to the Hugging Face Hub repo {repo_id} ({why}). The folder is "
                        f"complete: push it later where a network and a token (hf auth login) exist, with "
                        f"`hf upload {repo_id} {folder} .`") from None
