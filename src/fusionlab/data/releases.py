"""Which release of a benchmark a run read: its split files' SHA-256 against the known releases.

The same benchmark circulates in versions whose scores are not comparable (Twitter-2015's original UMT
labels and HVPNeT's revised ones differ in 393 test labels). ``references/releases.csv`` lists every known
release file (dataset, version, file name as released, SHA-256, bytes); a run records the version its split
files match, or ``unknown`` with their hashes, never an error. Hashes are cached by path, size and
modification time, so a file is read once however many runs read it.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from fusionlab.console.progress import progress
from fusionlab.storage.atomic import write_text_atomically

RELEASES = Path(__file__).resolve().parents[1] / "references" / "releases.csv"
UNKNOWN = "unknown"
CHUNK = 1 << 20


@dataclass(frozen=True)
class ReleaseFile:
    dataset: str
    version: str
    file: str
    sha256: str
    bytes: int


def known_releases(path: Path = RELEASES) -> list[ReleaseFile]:
    with path.open(newline="") as handle:
        return [ReleaseFile(row["dataset"], row["version"], row["file"], row["sha256"], int(row["bytes"]))
                for row in csv.DictReader(handle)]


class HashCache:
    """SHA-256 of files, kept in ``<cache_dir>/sha256.json`` keyed by resolved path, size and mtime."""

    def __init__(self, cache_dir: str | Path | None):
        self.path = Path(cache_dir) / "sha256.json" if cache_dir else None
        self.entries: dict[str, str] = {}
        if self.path is not None and self.path.is_file():
            try:
                self.entries = json.loads(self.path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError):
                self.entries = {}  # a damaged cache is only a cache: every hash is computed again

    def sha256(self, file: Path) -> str:
        stat = file.stat()
        key = f"{file.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        if key not in self.entries:
            digest = hashlib.sha256()
            bar = progress(stat.st_size, f"sha256 {file.name}", unit="B", unit_scale=True)
            with file.open("rb") as handle, bar:
                for chunk in iter(lambda: handle.read(CHUNK), b""):
                    digest.update(chunk)
                    bar.update(len(chunk))
            self.entries[key] = digest.hexdigest()
            self._save()
        return self.entries[key]

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(self.path, json.dumps(self.entries, indent=0, sort_keys=True))


def data_card(dataset: str, split_files: dict[str, str | Path], cache_dir: str | Path | None = None,
              registry: list[ReleaseFile] | None = None) -> dict:
    """``{"release": "<dataset> <version>" | "unknown", "files": {split: {path, bytes, sha256}}}``: the version
    whose known files include every split file, by content (a renamed file is still recognised)."""
    cache = HashCache(cache_dir)
    files = {}
    for split, name in split_files.items():
        path = Path(name)
        files[split] = {"path": str(path), "bytes": path.stat().st_size, "sha256": cache.sha256(path)}
    versions = None
    for entry in files.values():
        matching = {(r.dataset, r.version) for r in registry or known_releases() if r.sha256 == entry["sha256"]}
        versions = matching if versions is None else versions & matching
    known = sorted(versions or ())
    release = f"{known[0][0]} {known[0][1]}" if len(known) == 1 and known[0][0] == dataset else UNKNOWN
    return {"release": release, "files": files}
