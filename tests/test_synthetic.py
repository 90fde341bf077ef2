"""The synthetic benchmark: deterministic, parsed by the real readers, with image-only cues."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest

from fusionlab.data.readers.casrel import CasrelReader
from fusionlab.data.readers.conll import ConllReader
from fusionlab.data.readers.mnre import MnreReader
from fusionlab.data.readers.mvsa import MvsaReader
from fusionlab.data.synthetic import (
    CLEAN,
    ENTITY_NEUTRAL,
    IMAGE_DECIDES,
    IRRELEVANT_IMAGE,
    SyntheticBenchmark,
    SyntheticConfig,
)

SMALL = SyntheticConfig(seed=3, train=40, val=10, test=10)
READERS = {"mner": (ConllReader(".png"), "txt"), "mre": (MnreReader(), "txt"), "joint": (CasrelReader(), "json"),
           "msa": (MvsaReader(image_suffix=".png"), "txt")}


def _digest(folder):
    return hashlib.sha1(b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())).hexdigest()


@pytest.mark.parametrize("task", SyntheticBenchmark.TASKS)
def test_files_parse_with_the_real_readers_and_images_exist(tmp_path, task):
    ceilings = SyntheticBenchmark(tmp_path, SMALL).ensure(task)
    reader, suffix = READERS[task]
    for split, size in (("train", 40), ("val", 10), ("test", 10)):
        examples = reader(tmp_path / task / f"{split}.{suffix}").examples
        assert len(examples) == size
        assert all((tmp_path / task / "images" / e.image).is_file() for e in examples)
        assert 0.3 < list(ceilings[split].values())[0] < 1.0


def test_generation_is_deterministic_per_seed_and_differs_across_seeds(tmp_path):
    a, b, c = (SyntheticBenchmark(tmp_path / n, cfg) for n, cfg in
               (("a", SMALL), ("b", SMALL), ("c", SyntheticConfig(seed=4, train=40, val=10, test=10))))
    for bench in (a, b, c):
        bench.generate("mner")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_image_cued_entities_have_neutral_text_and_a_type_coloured_image(tmp_path):
    SyntheticBenchmark(tmp_path, SMALL).generate("mner")
    examples = ConllReader(".png")(tmp_path / "mner" / "train.txt").examples
    neutral = [e for e in examples if e.words[e.tags.index(next(t for t in e.tags if t.startswith("B-"))) - 2:][:2]
               == ENTITY_NEUTRAL]
    assert neutral, "some entities must be decidable from the image only"
    types = {t[2:] for e in neutral for t in e.tags if t.startswith("B-")}
    assert len(types) > 1, "image-cued entities must take several types"


def test_ceiling_is_below_one_because_text_cannot_see_image_cues(tmp_path):
    ceilings = SyntheticBenchmark(tmp_path, SyntheticConfig(seed=0, train=200, val=50, test=50)).ensure("mner")
    assert 0.6 < ceilings["test"]["f1"] < 0.9


@pytest.mark.parametrize("task", SyntheticBenchmark.TASKS)
def test_every_sample_has_an_evidence_group_in_the_expected_shares(tmp_path, task):
    config = SyntheticConfig(seed=5, train=400, val=10, test=10, p_image_cue=0.5, p_irrelevant=0.4)
    SyntheticBenchmark(tmp_path, config).ensure(task)
    groups = json.loads((tmp_path / task / "groups.json").read_text())
    assert len(groups) == 420
    shares = Counter(groups.values())
    assert abs(shares[IMAGE_DECIDES] / 420 - 0.5) < 0.08
    assert abs(shares[IRRELEVANT_IMAGE] / (shares[IRRELEVANT_IMAGE] + shares[CLEAN]) - 0.4) < 0.1


def _ensure(root, queue):
    queue.put(SyntheticBenchmark(root, SyntheticConfig(train=40, val=8, test=8)).ensure("mner")["test"])


def test_parallel_runs_wait_for_one_generator(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_ensure, args=(tmp_path, queue)) for _ in range(2)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=120)
    assert results[0] == results[1] and all(w.exitcode == 0 for w in workers)
    assert len((tmp_path / "mner" / "train.txt").read_text().strip().split("\n\n")) == 40


def test_each_generator_setting_has_its_own_folder():
    from tests.conftest import compose_config

    default = compose_config(["output_dir=/tmp/x"]).dataset.root
    smaller = compose_config(["output_dir=/tmp/x", "dataset.synthetic.train=400"]).dataset.root
    assert default != smaller
