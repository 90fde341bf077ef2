"""A hub encoder that is neither cached nor downloadable fails with one clear message, offline or behind a
dead proxy or endpoint, and the download goes where HF_ENDPOINT / HTTPS_PROXY say: no probe of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# Run in a fresh process: the Hub reads HF_HUB_OFFLINE, HF_ENDPOINT and its cache folder at import. Every
# socket connection is recorded; the Hub's retry backoff (1 + 2 + 4 + 8 + 8 s per file) is recorded, not slept.
CHILD = """
import json, socket, sys, time
connections, waits = [], []
connect = socket.create_connection
socket.create_connection = lambda address, *a, **k: connections.append(list(address)) or connect(address, *a, **k)
time.sleep = waits.append
from fusionlab.encoders.hub import EncoderUnavailableError
from fusionlab.encoders.proxy import proxy_encoder
from fusionlab.encoders.text import text_encoder
from fusionlab.encoders.vision import vision_encoder
build = {"text": lambda: text_encoder("bert-base-uncased"), "proxy": lambda: proxy_encoder("clip"),
         "vision": lambda: vision_encoder("resnet50")}
results = {}
for name in sys.argv[1:]:
    del connections[:]
    start = time.perf_counter()
    try:
        build[name]()
        error = None
    except EncoderUnavailableError as raised:
        error = str(raised)
    results[name] = {"error": error, "seconds": time.perf_counter() - start, "connections": list(connections)}
print(json.dumps({"results": results, "waits": waits}))
"""
DEAD = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused at once


def _load(tmp_path, env: dict, encoders: list[str]) -> dict:
    clean = {k: v for k, v in os.environ.items()
             if k.upper() not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT", "HTTPS_PROXY",
                                  "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"}}
    env = {**clean, "HF_HOME": str(tmp_path / "hf"), "TORCH_HOME": str(tmp_path / "torch"),
           "HF_HUB_ETAG_TIMEOUT": "1", "HF_HUB_DOWNLOAD_TIMEOUT": "1", **env}
    done = subprocess.run([sys.executable, "-c", CHILD, *encoders], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


WHAT = {"text": ("text encoder 'bert-base-uncased'", "(minilm, tiny)"),
        "proxy": ("proxy tower 'openai/clip-vit-base-patch32'", "(tiny_clip"),
        "vision": ("vision encoder resnet50", "(effnet_lite0, tiny)")}


def test_offline_a_hub_name_fails_at_once_with_the_clear_message_and_no_connection(tmp_path):
    outcome = _load(tmp_path, {"HF_HUB_OFFLINE": "1"}, ["text", "proxy", "vision"])
    for name, result in outcome["results"].items():
        what, choices = WHAT[name]
        assert result["error"].startswith(f"{what} is not in the local cache and cannot be downloaded: "
                                          "offline mode is on (HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE). "
                                          f"Use an offline encoder {choices}"), result
        assert result["connections"] == [] and result["seconds"] < 5, result
    assert outcome["waits"] == []


@pytest.mark.parametrize("setting, encoders", [
    ({"HTTPS_PROXY": DEAD, "HTTP_PROXY": DEAD}, ["text", "proxy", "vision"]),
    ({"HF_ENDPOINT": DEAD}, ["text", "proxy"]),  # torchvision's weights do not come from the Hub
])
def test_a_dead_proxy_or_endpoint_is_tried_and_then_reported_clearly(tmp_path, setting, encoders):
    outcome = _load(tmp_path, setting, encoders)
    for name, result in outcome["results"].items():
        what, choices = WHAT[name]
        source = {"vision": "https://download.pytorch.org/models/resnet50-"}.get(
            name, setting.get("HF_ENDPOINT", "https://huggingface.co"))
        via = f" through the proxy {DEAD}" if "HTTPS_PROXY" in setting else ""
        assert result["error"].startswith(f"{what} is not in the local cache and cannot be downloaded: {source}"), \
            result
        assert f"could not be reached{via} (ConnectionRefusedError: [Errno 111] Connection refused). " \
               f"Use an offline encoder {choices}" in result["error"], result
        # The library itself went to the configured proxy or endpoint; the old socket probe went to the
        # hub's own host on port 443 first, and called a reachable proxy "unreachable".
        assert result["connections"] and all(c == ["127.0.0.1", 9] for c in result["connections"]), result
