"""Preparing the examples of each split as a run reads them: generated (the synthetic benchmark) or read
with the dataset's reader, crops keyed, evaluation groups attached, the training split subsampled, the test
split's images perturbed or corrupted (the robustness protocols), the label vocabulary fitted, and each
split's image store (its folders and crop mapping)."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from fusionlab.data.corruption import IMAGE_KINDS, ImageCorruption, corrupt_examples
from fusionlab.data.example import Example
from fusionlab.data.images import ImageStore, load_aux_mapping
from fusionlab.data.labels import line_index, read_relations
from fusionlab.data.readers.text import regular_file
from fusionlab.data.releases import data_card
from fusionlab.data.synthetic import SyntheticBenchmark, SyntheticConfig
from fusionlab.data.task import DataTask

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")
AUX_KEYS = ("image", "line")  # what a dataset's crop mappings are keyed by (dataset.aux_key)
TEST_IMAGES = ("clean", "shuffled", "removed")  # the robustness protocol


@dataclass
class PreparedSplits:
    """Each split's examples and image store; ``stats``: the data files' card, reader drops, the synthetic
    benchmark's text-only ceiling; ``groups``: the test split's evaluation groups."""
    examples: dict[str, list[Example]]
    stores: dict[str, ImageStore]
    stats: dict = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)


@dataclass
class Preparation:
    """How the splits are prepared: the run's data options (``conf/config.yaml``'s ``data``)."""
    seed: int
    sample_ratio: float
    test_images: str
    corruption: dict
    load_aux: bool
    max_aux: int
    image_size: int
    cache_dir: str | None


def prepare_splits(source: dict, task: DataTask, how: Preparation, tokenizer,
                   unreadable: dict[str, str]) -> PreparedSplits:
    """``source``: the composed dataset config; ``tokenizer``: the text encoder's (its unknown token replaces
    corrupted words); ``unreadable``: where the image stores count unreadable files."""
    stats: dict = {}
    if source.get("synthetic"):
        stats["text_only_ceiling"] = generate_synthetic(source, task.name)
    examples = read_splits(source, task.name, how.cache_dir, stats)
    key_crops([e for split in SPLITS for e in examples[split]], source.get("aux_key", "image"))
    groups = attach_groups(source, examples)
    examples["train"] = subsample(examples["train"], how.sample_ratio, how.seed)
    examples["test"] = perturb_images(examples["test"], how.test_images, how.seed)
    examples["test"] = corrupt_examples(examples["test"], how.corruption["kind"], how.corruption["level"], how.seed,
                                        tokenizer.unk_token or "[UNK]")
    if not task.data.fitted:  # a checkpoint's vocabulary (evaluate) is kept as it is
        task.data.fit(examples["train"])
    use_label_files(source, task)
    stores = {split: image_store(source, split, examples[split], how, unreadable, stats) for split in SPLITS}
    return PreparedSplits(examples, stores, stats, groups)


def generate_synthetic(source: dict, task_name: str) -> dict:
    """Write the synthetic benchmark's files (once per configuration); its text-only ceiling per split."""
    ceilings = SyntheticBenchmark(source["root"], SyntheticConfig(**dict(source["synthetic"]))).ensure(task_name)
    return {split: ceilings[split] for split in SPLITS}


def read_splits(source: dict, task_name: str, cache_dir: str | None, stats: dict) -> dict[str, list[Example]]:
    """Each split's examples, read with the dataset's reader; the files' card (``data.release``, ``data.files``)
    and what the reader dropped go into ``stats``."""
    spec = source["tasks"][task_name]
    reader = spec["reader"]  # a reader object (Hydra instantiates it from the dataset config)
    examples, files = {}, {}
    for split in SPLITS:
        path = Path(spec["splits"][split])
        if not path.exists():
            layout = source.get("layout")
            other = [name for name in source.get("layouts") or {} if name != layout]
            hint = f"; dataset.layout={layout}, or choose {' / '.join(other)}" if layout and other else ""
            raise FileNotFoundError(f"{source['name']} {split} split: {path} does not exist (data_root "
                                    f"is FUSIONLAB_DATA{hint}; see docs/guide.md, 'Bring real data')")
        result = reader(regular_file(path))  # a FIFO or a device would block the reader
        examples[split], files[split] = result.examples, path
        if result.dropped:
            log.warning("%s: dropped %s", path, dict(result.dropped))
            stats.setdefault("dropped", {})[split] = dict(result.dropped)
        if not result.examples:
            raise ValueError(f"{source['name']} {split} split: {path} holds no examples"
                             + (f" (every record was dropped: {dict(result.dropped)})" if result.dropped else
                                " (an empty file or an empty list)"))
    stats.update(data_card(source["name"], files, cache_dir))
    return examples


def key_crops(examples: list[Example], aux_key: str) -> None:
    """Set where each example's crops are listed. ``aux_key: line`` (HVPNeT's MNRE): the mappings list each
    line's own crops (the release's visual grounding chose them for that line's sentence, and most images
    carry several lines), so an example looks them up by its 0-based line in its split file, and a sentence
    grouped from several lines (joint) by its first line. ``aux_key: image``: by the image's file name
    (``crop_key`` stays None)."""
    if aux_key not in AUX_KEYS:
        raise ValueError(f"dataset.aux_key must be one of {AUX_KEYS}, not {aux_key!r}")
    for example in examples:
        example.crop_key = str(line_index(example)) if aux_key == "line" else None


def attach_groups(source: dict, examples: dict[str, list[Example]]) -> list[str]:
    """Evaluation subsets from the dataset's optional ``groups`` file ({image: group} JSON); the test
    split's groups."""
    path = source.get("groups")
    if not path:
        return []
    if not Path(path).exists():
        raise FileNotFoundError(f"{source['name']}: groups file {path} does not exist")
    groups = json.loads(regular_file(path).read_text())
    for example in (e for split in SPLITS for e in examples[split]):
        example.group = groups.get(example.image, "")
    return sorted({e.group for e in examples["test"]} - {""})


def subsample(examples: list[Example], ratio: float, seed: int) -> list[Example]:
    """The low-resource protocol: a seeded ``ratio`` of the examples."""
    if ratio == 1:
        return examples
    return random.Random(seed).sample(examples, max(1, round(len(examples) * ratio)))


def perturb_images(examples: list[Example], how: str, seed: int) -> list[Example]:
    """Robustness protocol: every test sentence gets another sentence's image, with that sentence's crops
    (``shuffled``: a seeded derangement), or none (``removed``: the missing-image policy applies, to the
    crops too); labels and groups stay."""
    if how not in TEST_IMAGES:
        raise ValueError(f"test_images must be one of {TEST_IMAGES}, not {how!r}")
    if how == "removed":
        return [replace(e, image=None) for e in examples]
    if how == "clean" or len(examples) < 2:
        return examples
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)  # image of order[i] goes to order[i + 1]: nobody keeps their own
    donors = {order[(i + 1) % len(order)]: examples[j] for i, j in enumerate(order)}
    return [replace(e, image=donors[k].image, crop_key=donors[k].crop_key) for k, e in enumerate(examples)]


def use_label_files(source: dict, task: DataTask) -> None:
    """The released relation vocabulary (``relations_file``: HVPNeT's ``ours_rel2id.json``, CasRel's
    ``rel2id.json``) replaces the one fitted on the training split."""
    path = source.get("relations_file")
    if path and "relations" in task.data.vocabulary_keys:
        task.data.load_vocabulary({**task.data.vocabulary(), "relations": read_relations(path)})


def per_split(source: dict, key: str, split: str):
    """A dataset path given once, or per split ({train, val, test}: HVPNeT's release keeps MNRE's images
    and every dataset's crops and crop mappings per split)."""
    value = source.get(key)
    return value.get(split) if isinstance(value, Mapping) else value


def image_store(source: dict, split: str, examples: list[Example], how: Preparation, unreadable: dict[str, str],
                stats: dict) -> ImageStore:
    """Where ``split``'s images and crops lie; the crop mapping as released (keyed by image file name, or by
    line: ``key_crops``). A missing mapping file is the missing-image policy's case: its crop slots stay
    empty, and it is counted and warned once; so is a mapping that lists none of the split's keys."""
    mapping = {}
    path = per_split(source, "aux_mapping", split) if how.load_aux else None
    if path and not Path(path).is_file():
        stats.setdefault("aux_mapping_missing", {})[split] = str(path)
        log.warning("%s %s: crop mapping %s does not exist: every crop slot is empty (missing-image policy)",
                    source["name"], split, path)
    elif path:
        mapping = load_aux_mapping(path)
        keys = [e.image if e.crop_key is None else e.crop_key for e in examples]
        if mapping and not any(k in mapping for k in keys):
            log.warning("%s %s: crop mapping %s lists none of the split's keys (dataset.aux_key=%s, e.g. %r; the "
                        "mapping's keys look like %r): every crop slot is empty", source["name"], split,
                        path, source.get("aux_key", "image"), keys[0], next(iter(mapping)))
    kind, level = how.corruption["kind"], how.corruption["level"]
    corruption = ImageCorruption(kind, level, how.seed) if split == "test" and kind in IMAGE_KINDS else None
    return ImageStore(per_split(source, "image_dir", split), per_split(source, "aux_image_dir", split), mapping,
                      how.max_aux, how.image_size, unreadable=unreadable, corruption=corruption)
