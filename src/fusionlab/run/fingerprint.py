"""What a run's result depends on: its resolved config (less the keys that never change a result:
``fusionlab.config.result_keys``), the SHA-256 of the data files it reads (wherever they
live: another data root holding the same bytes is the same data) and the code's commit. Every attempt
records it (``run.json``); a re-run of a folder whose fingerprint differs is refused, naming what changed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fusionlab.config.result_keys import result_config
from fusionlab.data.releases import data_card


def data_files(config: dict) -> dict[str, str] | None:
    """SHA-256 of the split files the config names, by split; None while one is missing (not generated yet)."""
    paths = {split: Path(name) for split, name in config["dataset"]["tasks"][config["task"]["name"]]["splits"].items()}
    if not all(path.is_file() for path in paths.values()):
        return None
    card = data_card(config["dataset"]["name"], paths, config["data"].get("cache_dir"))
    return {split: file["sha256"] for split, file in card["files"].items()}


def fingerprint(config: dict, data: dict[str, str] | None, code: dict) -> dict:
    """``data``: SHA-256 by split (None until the data is read)."""
    settings = json.dumps(result_config(config), sort_keys=True)
    root = config.get("data_root")
    return {"config": hashlib.sha256(settings.encode()).hexdigest(), "data": data,
            "data_root": str(Path(root).resolve()) if root else None, "code": code}


def finished_attempt(results: dict) -> dict:
    """A finished run's config and fingerprint, as its ``results.json`` records them."""
    config = results.get("config", {})
    data = {split: f["sha256"] for split, f in results.get("data", {}).get("files", {}).items()} or None
    return {"config": config, "fingerprint": fingerprint(config, data, results.get("run", {}).get("code"))}


def changes(before: dict, now: dict, parts: tuple[str, ...] = ("config", "data", "code")) -> list[str]:
    """What differs between two attempts' records (``{"config": ..., "fingerprint": ...}``), in ``parts``."""
    found = []
    old, new = before["fingerprint"], now["fingerprint"]
    if "config" in parts and old["config"] != new["config"]:
        was, is_ = result_config(before["config"]), result_config(now["config"])
        keys = sorted(k for k in was.keys() | is_.keys() if was.get(k) != is_.get(k))
        found.append("config keys " + ", ".join(f"{k} ({was.get(k)} -> {is_.get(k)})" for k in keys) if keys
                     else "config (the keys that change no result were redefined)")
    if "data" in parts and old["data"] is not None and new["data"] is not None and old["data"] != new["data"]:
        splits = sorted(s for s in old["data"].keys() | new["data"].keys() if old["data"].get(s) != new["data"].get(s))
        found.append(f"data files {', '.join(splits)} (data_root {old['data_root']} -> {new['data_root']}; "
                     f"SHA-256 differs)")
    elif "data" in parts and new["data"] is None and old["data_root"] != new["data_root"]:
        found.append(f"data_root ({old['data_root']} -> {new['data_root']}, where the split files are not all "
                     f"found to compare)")
    if "code" in parts and old["code"] != new["code"]:
        found.append(f"code ({old['code']} -> {new['code']})")
    return found


def refuse_changed(run_dir: Path, before: dict, now: dict, parts: tuple[str, ...], state: str) -> None:
    """Stop when ``parts`` of the run's fingerprint changed since ``before`` (a ``finished`` run, or the attempt
    an ``interrupted`` one continues), naming what changed and how to go on."""
    changed = changes(before, now, parts)
    if not changed:
        return
    how = ("its results.json holds another run's results: choose another output folder (output_dir, or "
           "hydra.run.dir) or remove this one to train anew") if state == "finished" else (
           "resume=force continues it anyway, or choose another output folder (output_dir, or hydra.run.dir)")
    raise FileExistsError(f"{run_dir}: the {state} run it holds has another fingerprint: {'; '.join(changed)}. {how}")
