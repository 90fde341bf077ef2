"""A run knows which release of a benchmark it read: split files by SHA-256 against the known releases."""

from __future__ import annotations

import hashlib
import time

from fusionlab.data.releases import HashCache, ReleaseFile, data_card, known_releases
from tests.conftest import shared_file


def test_the_registry_holds_every_known_release_file():
    registry = known_releases()
    versions = {(r.dataset, r.version) for r in registry}
    assert {("twitter2015", "original (UMT)"), ("twitter2015", "revised (HVPNeT)"), ("twitter2017", "UMT = HVPNeT = MuSE"),
            ("mnre", "HVPNeT release"), ("webnlg_star", "partial match (CopyRE/CasRel)"),
            ("webnlg", "exact match (ETL-span/PRGC, 216 relations)"), ("nyt_star", "partial match (CopyRE/CasRel)"),
            ("nyt", "exact match (PRGC/TPLinker/OneRel)"), ("mvsa_single", "CLMLF split"),
            ("mvsa_multiple", "CLMLF split")} == versions
    assert len(registry) == 32 and all(len(r.sha256) == 64 and r.bytes > 0 for r in registry)


def _files(tmp_path, texts: dict[str, str]) -> dict[str, str]:
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
    return {name.split(".")[0]: str(tmp_path / name) for name in texts}


def _registry(version: str, texts: dict[str, str]) -> list[ReleaseFile]:
    return [ReleaseFile("toy", version, name, hashlib.sha256(text.encode()).hexdigest(), len(text))
            for name, text in texts.items()]


def test_files_are_recognised_by_content_and_anything_else_is_unknown_with_its_hashes(tmp_path):
    texts = {"train.txt": "a\n", "test.txt": "b\n"}
    registry = _registry("v1", texts) + _registry("v2", {"train.txt": "a\n", "test.txt": "c\n"})
    card = data_card("toy", _files(tmp_path, texts), tmp_path / "cache", registry)
    assert card["release"] == "toy v1"  # train is in both versions, test only in v1
    assert card["files"]["test"] == {"path": str(tmp_path / "test.txt"), "bytes": 2,
                                     "sha256": hashlib.sha256(b"b\n").hexdigest()}
    edited = _files(tmp_path, {"train.txt": "a\n", "test.txt": "changed\n"})
    assert data_card("toy", edited, None, registry)["release"] == "unknown"
    assert data_card("other", _files(tmp_path, texts), None, registry)["release"] == "unknown"


def test_a_file_is_hashed_once_until_it_changes(tmp_path, monkeypatch):
    path = tmp_path / "split.txt"
    path.write_text("one\n")
    cache = HashCache(tmp_path / "cache")
    first = cache.sha256(path)
    reads = []
    monkeypatch.setattr(hashlib, "sha256", lambda *a: reads.append(1) or (_ for _ in ()).throw(AssertionError))
    assert HashCache(tmp_path / "cache").sha256(path) == first and not reads  # from the cache on disk
    monkeypatch.undo()
    time.sleep(0.01)
    path.write_text("two\n")
    assert HashCache(tmp_path / "cache").sha256(path) == hashlib.sha256(b"two\n").hexdigest()


def test_a_damaged_hash_cache_is_recomputed(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "sha256.json").write_text("{not json")
    path = tmp_path / "split.txt"
    path.write_text("x")
    assert HashCache(tmp_path / "cache").sha256(path) == hashlib.sha256(b"x").hexdigest()


def test_the_two_real_twitter2015_versions_are_told_apart():
    original = shared_file("twitter2015")
    revised = shared_file("hvpnet_release", "NER_data", "twitter2015")
    names = {"train": "train.txt", "val": "valid.txt", "test": "test.txt"}
    assert data_card("twitter2015", {s: original / n for s, n in names.items()})["release"] == \
        "twitter2015 original (UMT)"
    assert data_card("twitter2015", {s: revised / n for s, n in names.items()})["release"] == \
        "twitter2015 revised (HVPNeT)"


def test_a_run_records_the_release_and_its_files_hashes(tiny_overrides, tmp_path):
    from fusionlab.train import run
    from tests.conftest import compose_config

    results = run(compose_config(tiny_overrides + ["fusion=text_only", "trainer.max_epochs=1"]))
    data = results["data"]
    assert data["release"] == "unknown"  # generated data is no known release; its files are named by hash
    assert set(data["files"]) == {"train", "val", "test"}
    for entry in data["files"].values():
        content = open(entry["path"], "rb").read()
        assert entry["sha256"] == hashlib.sha256(content).hexdigest() and entry["bytes"] == len(content)


def test_the_check_prints_the_release_first_for_each_twitter2015_version(tiny_overrides):
    from fusionlab.check import check, render
    from tests.conftest import compose_config

    data = shared_file("twitter2015").parent
    overrides = [o for o in tiny_overrides if not o.startswith("dataset.")] + ["dataset=twitter2015", "task=mner",
                                                                               "fusion=text_only"]
    for root, layout, release in ((data, "flat", "twitter2015 original (UMT)"),
                                  (data / "hvpnet_release", "hvpnet", "twitter2015 revised (HVPNeT)")):
        shown = render(check(compose_config(overrides + [f"data_root={root}", f"dataset.layout={layout}"])))
        assert shown.splitlines()[2] == f"release: {release} (fusionlab.data.releases)"
        assert "test.txt (550" in shown.splitlines()[5]
