"""One LightningDataModule for every task, dataset and fusion method.

Reads each split with the dataset's reader, tokenises with the text encoder's tokenizer
(labels on first sub-tokens; truncation counted), and attaches per example either the
image pixels (global + up to ``max_aux`` crops, with masks), the frozen vision
encoder's cached features, or nothing for text-only methods.
"""

from __future__ import annotations

import json
import logging
import os
import random
import warnings
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.accelerators import CUDAAccelerator
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from lightning.pytorch.utilities.warnings import PossibleUserWarning
from torch.utils.data import DataLoader, Dataset, Subset, get_worker_info

from fusionlab.data.corruption import IMAGE_KINDS, ImageCorruption, corrupt_examples
from fusionlab.data.corruption import check as check_corruption
from fusionlab.data.encoding import encode_words, pad
from fusionlab.data.example import Example
from fusionlab.data.feature_cache import FeatureCache
from fusionlab.data.images import ImageStore, load_aux_mapping
from fusionlab.data.labels import line_index, read_relations
from fusionlab.data.readers.text import regular_file
from fusionlab.data.releases import data_card
from fusionlab.data.resumable import EpochSampler
from fusionlab.data.synthetic import SyntheticBenchmark, SyntheticConfig
from fusionlab.data.tagging import unrepresentable_triples
from fusionlab.data.task import DataTask

log = logging.getLogger(__name__)

# Lightning warns on every mid-epoch resume unless the DataLoader object keeps its own state. Here the
# position is kept by the datamodule (``batches_done`` in the checkpoint) and applied by ``EpochSampler``,
# so the warning would be false; ``train_dataloader`` logs what the resume does instead.
warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended",
                        category=PossibleUserWarning)
SPLITS = ("train", "val", "test")
IMAGE_MODES = ("none", "pixels", "features")
AUX_KEYS = ("image", "line")  # what a dataset's crop mappings are keyed by (dataset.aux_key)
TEST_IMAGES = ("clean", "shuffled", "removed")  # the robustness protocol


def _for_instance(paths: list[Path]) -> str:
    """`` (e.g. a.jpg, b.jpg)``: the first absent files a warning names (none where sentences have no image)."""
    return f" (e.g. {', '.join(p.name for p in paths)})" if paths else ""


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


class MultimodalDataset(Dataset):
    def __init__(self, examples: list[Example], task: DataTask, tokenizer, max_length: int,
                 store: ImageStore, image_mode: str, load_aux: bool, cache: FeatureCache | None, template=None,
                 target_pixels: int | None = None):
        self.examples, self.task, self.store = examples, task, store
        self.image_mode, self.load_aux, self.cache, self.template = image_mode, load_aux, cache, template
        self.target_pixels = target_pixels
        self.encoded = [encode_words(task.words(e), tokenizer, max_length) for e in examples]
        self.truncated = sum(e.truncated for e in self.encoded)
        self.targets_cut = sum(task.target_cut(e, encoded) for e, encoded in zip(examples, self.encoded))
        self._passed_on: set[str] = set()  # unreadable files this (worker) process has reported

    def _newly_unreadable(self) -> dict[str, str]:
        """Files a DataLoader worker found unreadable since its last item: the worker's ``ImageStore`` is
        a copy, so they travel with the batch to the main process's count (``FusionDataModule``)."""
        new = {path: why for path, why in self.store.unreadable.items() if path not in self._passed_on}
        self._passed_on.update(new)
        return new

    def __len__(self) -> int:
        return len(self.examples)

    def _visual(self, path: Path | None) -> tuple[object, bool]:
        """Pixels or cached features and True, or zeros and False (the missing-image policy)."""
        if self.image_mode == "pixels":
            return self.store.load(path)
        features = self.cache.get(path, self.store)
        if features is None:
            return {k: torch.zeros_like(v) for k, v in self.template.items()}, False
        return features, True

    def __getitem__(self, index: int) -> dict:
        example, encoded = self.examples[index], self.encoded[index]
        item = {"example": example, "input_ids": encoded.input_ids, "word_index": encoded.word_index,
                **self.task.targets(example, encoded)}
        if self.image_mode == "none":
            return item
        item["image"], item["image_mask"] = self._visual(self.store.image_path(example.image))
        if self.target_pixels:
            item["image_target"], _ = self.store.load(self.store.image_path(example.image), self.target_pixels)
        if self.load_aux:
            paths = self.store.aux_paths(example.image, example.crop_key)
            crops = [self._visual(p) for p in paths] + [self._visual(None)] * (self.store.max_aux - len(paths))
            item["aux"], item["aux_mask"] = [c for c, _ in crops], [ok for _, ok in crops]
        if get_worker_info() is not None:
            item["unreadable"] = self._newly_unreadable()
        return item


class ExampleBatch:
    """The batch's source Examples, opaque to Lightning's device transfer (which would walk
    into dataclasses) and read back by scoring and prediction dumps."""

    def __init__(self, examples: list[Example]):
        self._examples = examples

    def __len__(self) -> int:
        return len(self._examples)

    def __iter__(self):
        return iter(self._examples)

    def __getitem__(self, index: int) -> Example:
        return self._examples[index]


def _stack(values: list):
    """Stack tensors, or dicts of tensors key by key."""
    if isinstance(values[0], dict):
        return {k: torch.stack([v[k] for v in values]) for k in values[0]}
    return torch.stack(values)


class Collator:
    def __init__(self, task: DataTask, pad_id: int):
        self.task, self.pad_id = task, pad_id

    def __call__(self, items: list[dict]) -> dict:
        input_ids = pad([i["input_ids"] for i in items], self.pad_id)
        word_index = pad([i["word_index"] for i in items])
        lengths = torch.tensor([len(i["word_index"]) for i in items])
        batch = {"examples": ExampleBatch([i["example"] for i in items]), "input_ids": input_ids,
                 "attention_mask": pad([[1] * len(i["input_ids"]) for i in items]),
                 "word_index": word_index,
                 "word_mask": torch.arange(word_index.size(1)).unsqueeze(0) < lengths.unsqueeze(1),
                 **self.task.collate(items, word_index.size(1))}
        if "image" in items[0]:
            batch["image"] = _stack([i["image"] for i in items])
            batch["image_mask"] = torch.tensor([i["image_mask"] for i in items])
        if "image_target" in items[0]:
            batch["image_target"] = torch.stack([i["image_target"] for i in items])
        if "aux" in items[0]:
            batch["aux"] = _stack([_stack(i["aux"]) for i in items])
            batch["aux_mask"] = torch.tensor([i["aux_mask"] for i in items])
        if "unreadable" in items[0]:
            batch["unreadable"] = {path: why for i in items for path, why in i["unreadable"].items()}
        return batch


class FusionDataModule(L.LightningDataModule):
    """``dataset`` is the composed ``conf/dataset`` node (readers instantiated); ``image_mode`` and
    ``load_aux`` come from the fusion class."""

    def __init__(self, dataset: dict, task: DataTask, tokenizer, batch_size: int = 32, eval_batch_size: int = 64,
                 max_length: int = 128, num_workers: int | str = 0, sample_ratio: float = 1.0, seed: int = 1,
                 image_size: int = 224, max_aux: int = 3, image_mode: str = "pixels", load_aux: bool = False,
                 target_pixels: int | None = None, test_images: str = "clean", test_corruption: dict | None = None,
                 feature_cache: bool = True, cache_dir: str = ".cache/features", pin_memory: bool | str = "auto"):
        super().__init__()
        if image_mode not in IMAGE_MODES:
            raise ValueError(f"image_mode must be one of {IMAGE_MODES}, not {image_mode!r}")
        if task.name not in dataset["tasks"]:
            raise ValueError(f"dataset {dataset['name']!r} serves tasks {sorted(dataset['tasks'])}, not {task.name!r}")
        if not 0 < sample_ratio <= 1:
            raise ValueError(f"sample_ratio must be in (0, 1], not {sample_ratio}")
        self.source, self.task, self.tokenizer = dataset, task, tokenizer
        self.batch_size, self.eval_batch_size, self.max_length = batch_size, eval_batch_size, max_length
        self.num_workers, self.pin_memory, self.sample_ratio, self.seed = num_workers, pin_memory, sample_ratio, seed
        self.image_size, self.max_aux, self.image_mode, self.load_aux = image_size, max_aux, image_mode, load_aux
        self.target_pixels = target_pixels  # a generation target of this size (MuSE's image decoder)
        self.test_images = test_images
        self.corruption = dict(test_corruption or {"kind": "none", "level": 0.0})  # robustness curves
        check_corruption(self.corruption["kind"], self.corruption["level"])
        self.use_cache, self.cache_dir = feature_cache, cache_dir
        self.vision: torch.nn.Module | None = None
        self.splits: dict[str, MultimodalDataset] = {}
        self.stats: dict = {}
        self.groups: list[str] = []  # evaluation subsets of the test split (see _attach_groups)
        self._resume_batches = 0  # set from a mid-epoch checkpoint
        self.stores: dict[str, ImageStore] = {}
        self.unreadable: dict[str, str] = {}  # every unreadable image or crop file (path -> why), counted once

    def attach_vision(self, encoder: torch.nn.Module) -> None:
        """Serve cached features instead of pixels when the vision encoder is frozen."""
        if self.image_mode == "pixels" and self.use_cache and getattr(encoder, "frozen", False):
            self.vision, self.image_mode = encoder, "features"

    def _synthetic(self) -> None:
        config = SyntheticConfig(**dict(self.source["synthetic"]))
        ceilings = SyntheticBenchmark(self.source["root"], config).ensure(self.task.name)
        self.stats["text_only_ceiling"] = {split: ceilings[split] for split in SPLITS}

    def _read(self) -> dict[str, list[Example]]:
        spec = self.source["tasks"][self.task.name]
        reader = spec["reader"]  # a reader object (Hydra instantiates it from the dataset config)
        examples, files = {}, {}
        for split in SPLITS:
            path = Path(spec["splits"][split])
            if not path.exists():
                layout = self.source.get("layout")
                other = [name for name in self.source.get("layouts") or {} if name != layout]
                hint = f"; dataset.layout={layout}, or choose {' / '.join(other)}" if layout and other else ""
                raise FileNotFoundError(f"{self.source['name']} {split} split: {path} does not exist (data_root "
                                        f"is FUSIONLAB_DATA{hint}; see docs/guide.md, 'Bring real data')")
            result = reader(regular_file(path))  # a FIFO or a device would block the reader
            examples[split], files[split] = result.examples, path
            if result.dropped:
                log.warning("%s: dropped %s", path, dict(result.dropped))
                self.stats.setdefault("dropped", {})[split] = dict(result.dropped)
            if not result.examples:
                raise ValueError(f"{self.source['name']} {split} split: {path} holds no examples"
                                 + (f" (every record was dropped: {dict(result.dropped)})" if result.dropped else
                                    " (an empty file or an empty list)"))
        self.stats.update(data_card(self.source["name"], files, self.cache_dir))  # data.release, data.files
        return examples

    def _attach_groups(self, examples: dict[str, list[Example]]) -> None:
        """Evaluation subsets from the dataset's optional ``groups`` file ({image: group} JSON)."""
        path = self.source.get("groups")
        if not path:
            return
        if not Path(path).exists():
            raise FileNotFoundError(f"{self.source['name']}: groups file {path} does not exist")
        groups = json.loads(regular_file(path).read_text())
        for example in (e for split in SPLITS for e in examples[split]):
            example.group = groups.get(example.image, "")
        self.groups = sorted({e.group for e in examples["test"]} - {""})

    def _subsample(self, examples: list[Example]) -> list[Example]:
        if self.sample_ratio == 1:
            return examples
        keep = max(1, round(len(examples) * self.sample_ratio))
        return random.Random(self.seed).sample(examples, keep)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        if self.source.get("synthetic"):
            self._synthetic()
        examples = self._read()
        key_crops([e for split in SPLITS for e in examples[split]], self.source.get("aux_key", "image"))
        self._attach_groups(examples)
        examples["train"] = self._subsample(examples["train"])
        examples["test"] = perturb_images(examples["test"], self.test_images, self.seed)
        examples["test"] = corrupt_examples(examples["test"], self.corruption["kind"], self.corruption["level"],
                                            self.seed, self.tokenizer.unk_token or "[UNK]")
        if not self.task.fitted:  # a checkpoint's vocabulary (evaluate) is kept as it is
            self.task.fit(examples["train"])
        self._use_label_files()
        self._report_unseen_labels(examples)
        self.stores = {split: self._store(split, examples[split]) for split in SPLITS}
        cache = template = None
        if self.image_mode == "features":
            cache = FeatureCache(self.cache_dir, self.vision.identity)
            computed = images = 0
            for split in SPLITS:
                store = self.stores[split]
                paths = [p for e in examples[split]
                         for p in [store.image_path(e.image),
                                   *(store.aux_paths(e.image, e.crop_key) if self.load_aux else [])] if p]
                computed, images = computed + cache.fill(paths, self.vision, store), images + len(set(paths))
            self.stats["feature_cache"] = {"computed": computed, "images": images}
            with torch.no_grad():
                template = {k: torch.zeros_like(v[0]) for k, v in self.vision(
                    torch.zeros(1, 3, self.image_size, self.image_size, device=next(self.vision.parameters()).device)).items()}
                template = {k: v.cpu() for k, v in template.items()}
        self.cache, self.template = cache, template
        for split in SPLITS:
            store = self.stores[split]
            dataset = MultimodalDataset(examples[split], self.task, self.tokenizer, self.max_length, store,
                                        self.image_mode, self.load_aux, cache, template, self.target_pixels)
            self.splits[split] = dataset
            counts = store.audit([e.image for e in examples[split]], self.load_aux,
                                 [e.crop_key for e in examples[split]]) if self.image_mode != "none" else {}
            self.stats.setdefault("splits", {})[split] = {"examples": len(dataset), "truncated": dataset.truncated,
                                                          "targets_cut": dataset.targets_cut, **counts}
            if self.task.name == "joint":  # gold triples the tagger cannot output: in the gold, scored as misses
                self.stats["splits"][split]["triples_unrepresentable"] = sum(map(unrepresentable_triples,
                                                                                 examples[split]))
            if dataset.targets_cut:
                log.warning("%s %s: in %d of %d sentences, max_length=%d cut off what the %s head reads (entity "
                            "markers are then read at [CLS]); raise data.max_length", self.source["name"], split,
                            dataset.targets_cut, len(dataset), self.max_length, self.task.name)
            if counts.get("missing_images"):
                log.warning("%s %s: %d of %d images missing in %s%s; they are masked (missing-image policy)",
                            self.source["name"], split, counts["missing_images"], len(dataset), store.image_dir,
                            _for_instance(store.absent["images"]))
            if counts.get("missing_aux"):
                named = len(dataset) * self.max_aux - counts["aux_slots_empty"] - counts.get("aux_outside_folder", 0)
                log.warning("%s %s: %d of the %d crops the mapping names are missing in %s%s; their slots are "
                            "masked (missing-image policy)", self.source["name"], split, counts["missing_aux"],
                            named, store.aux_dir, _for_instance(store.absent["aux"]))
            if counts.get("aux_outside_folder"):
                log.warning("%s %s: %d of the crops the mapping lists lie outside the crop folder %s (e.g. %s); they "
                            "are never opened, and their slots are masked", self.source["name"], split,
                            counts["aux_outside_folder"], store.aux_dir, ", ".join(map(str, store.absent["outside"])))
        self._flag_absent_modalities()

    def _per_split(self, key: str, split: str):
        """A dataset path given once, or per split ({train, val, test}: HVPNeT's release keeps MNRE's images
        and every dataset's crops and crop mappings per split)."""
        value = self.source.get(key)
        return value.get(split) if isinstance(value, Mapping) else value

    def _store(self, split: str, examples: list[Example]) -> ImageStore:
        """Where ``split``'s images and crops lie; the crop mapping as released (keyed by image file name, or by
        line: ``key_crops``). A missing mapping file is the missing-image policy's case: its crop slots stay
        empty, and it is counted and warned once; so is a mapping that lists none of the split's keys."""
        mapping = {}
        path = self._per_split("aux_mapping", split) if self.load_aux else None
        if path and not Path(path).is_file():
            self.stats.setdefault("aux_mapping_missing", {})[split] = str(path)
            log.warning("%s %s: crop mapping %s does not exist: every crop slot is empty (missing-image policy)",
                        self.source["name"], split, path)
        elif path:
            mapping = load_aux_mapping(path)
            keys = [e.image if e.crop_key is None else e.crop_key for e in examples]
            if mapping and not any(k in mapping for k in keys):
                log.warning("%s %s: crop mapping %s lists none of the split's keys (dataset.aux_key=%s, e.g. %r; the "
                            "mapping's keys look like %r): every crop slot is empty", self.source["name"], split,
                            path, self.source.get("aux_key", "image"), keys[0], next(iter(mapping)))
        kind, level = self.corruption["kind"], self.corruption["level"]
        corruption = ImageCorruption(kind, level, self.seed) if split == "test" and kind in IMAGE_KINDS else None
        return ImageStore(self._per_split("image_dir", split), self._per_split("aux_image_dir", split), mapping,
                          self.max_aux, self.image_size, unreadable=self.unreadable, corruption=corruption)

    def _flag_absent_modalities(self) -> None:
        """A method that reads images but found none (or crops, and found none) is effectively text-only:
        one prominent warning, and a flag in results.json that the report shows."""
        splits = self.stats["splits"]
        if self.image_mode == "none":
            return
        found = sum(s["examples"] - s["missing_images"] for s in splits.values()) - len(self.unreadable)
        if found <= 0:
            self.stats["no_images_found"] = True
            log.warning("%s: NO IMAGE FOUND in any split (looked in %s): this run is effectively text-only",
                        self.source["name"], sorted({str(s.image_dir) for s in self.stores.values()}))
        if self.load_aux:
            slots = sum(s["examples"] for s in splits.values()) * self.max_aux
            crops = slots - sum(s["aux_slots_empty"] + s["missing_aux"] + s.get("aux_outside_folder", 0)
                                for s in splits.values())
            if crops <= 0:
                self.stats["no_crops_found"] = True
                log.warning("%s: NO OBJECT CROP FOUND in any split (crop folders %s, mappings %s): every crop slot "
                            "is empty", self.source["name"], sorted({str(s.aux_dir) for s in self.stores.values()}),
                            self.source.get("aux_mapping"))

    def _use_label_files(self) -> None:
        """The released relation vocabulary (``relations_file``: HVPNeT's ``ours_rel2id.json``, CasRel's
        ``rel2id.json``) replaces the one fitted on the training split."""
        path = self.source.get("relations_file")
        if path and "relations" in self.task.vocabulary_keys:
            self.task.load_vocabulary({**self.task.vocabulary(), "relations": read_relations(path)})

    def _report_unseen_labels(self, examples: dict[str, list[Example]]) -> None:
        """Labels first seen in val or test: counted, named and warned; the heads never get them."""
        for split in ("val", "test"):
            unseen = self.task.unseen_labels(examples[split])
            if unseen:
                self.stats.setdefault("unseen_labels", {})[split] = unseen
                log.warning("%s %s: %d labels not in the training split (%s): scored as misses",
                            self.source["name"], split, len(unseen), ", ".join(f"{k} x{v}" for k, v in unseen.items()))

    def serve(self, examples: list[Example]) -> MultimodalDataset:
        """New inputs (prediction) without the dataset: image paths as given, pixels through the vision
        encoder (no feature cache is read or filled), no object crops (their slots are masked)."""
        store = ImageStore("/", None, {}, self.max_aux, self.image_size,  # inputs name images by absolute path
                           unreadable=self.unreadable)
        mode = "none" if self.image_mode == "none" else "pixels"
        return MultimodalDataset(examples, self.task, self.tokenizer, self.max_length, store, mode,
                                 self.load_aux, None, None, self.target_pixels)

    def loader(self, dataset: Dataset, train: bool = False) -> DataLoader:
        collate = Collator(self.task, self.tokenizer.pad_token_id or 0)
        sampler = None
        trainer = self.trainer
        replicas, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        if train:  # shuffled per epoch from (seed, epoch), this process's share: replayable on resume
            sampler = EpochSampler(len(dataset), self.seed, replicas, rank)
        elif replicas > 1:
            # evaluation under DDP: each sample on exactly one process (no padding duplicates);
            # the torchmetrics states are summed across processes
            sampler = UnrepeatedDistributedSampler(dataset, num_replicas=replicas, rank=rank, shuffle=False)
        workers = self.workers()
        return DataLoader(dataset, batch_size=self.batch_size if train else self.eval_batch_size, sampler=sampler,
                          num_workers=workers, collate_fn=collate, persistent_workers=workers > 0,
                          pin_memory=self._on_gpu() if self.pin_memory == "auto" else bool(self.pin_memory))

    def _on_gpu(self) -> bool:
        trainer = self.trainer
        return trainer is not None and isinstance(trainer.accelerator, CUDAAccelerator)

    def workers(self) -> int:
        """``num_workers: auto``: none on CPU (the training process uses every core), on GPU a few per
        device (decoding images and collating keep up with the device)."""
        if self.num_workers != "auto":
            return int(self.num_workers)
        if not self._on_gpu():
            return 0
        return max(1, min(8, (os.cpu_count() or 2) // max(1, self.trainer.num_devices)))

    def estimation_loader(self, samples: int | None = None) -> DataLoader:
        """The first ``samples`` training sentences in file order, whole on every process (an
        estimate every process must agree on, such as MASE's E-step)."""
        train = self.splits["train"]
        subset = Subset(train, range(min(samples or len(train), len(train))))
        return DataLoader(subset, batch_size=self.eval_batch_size, num_workers=self.workers(),
                          collate_fn=Collator(self.task, self.tokenizer.pad_token_id or 0))

    def on_before_batch_transfer(self, batch, dataloader_idx):
        """Count, once per file, the unreadable images DataLoader workers found (see ``_newly_unreadable``)."""
        for path, why in batch.pop("unreadable", {}).items():
            self.unreadable.setdefault(path, why)
        return batch

    def train_dataloader(self):
        loader = self.loader(self.splits["train"], train=True)
        if self._resume_batches:
            log.info("resuming mid-epoch: the epoch's first %d batches (of this process's share) were trained "
                     "before the checkpoint; training continues from batch %d in the same order",
                     self._resume_batches, self._resume_batches + 1)
        loader.sampler.start, self._resume_batches = self._resume_batches * self.batch_size, 0
        return loader

    def state_dict(self) -> dict:
        """Kept in every checkpoint: how many batches of the current epoch this process trained on (the same
        on every process: each trains on its own share, batch for batch); 0 once the epoch's batches are all
        done (a checkpoint after its validation), as a resume from it starts the next epoch."""
        trainer = self.trainer
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed if trainer else 0
        return {"batches_done": done if trainer and done < trainer.num_training_batches else 0}

    def load_state_dict(self, state: dict) -> None:
        self._resume_batches = state.get("batches_done", 0)

    def val_dataloader(self):
        return self.loader(self.splits["val"])

    def test_dataloader(self):
        return self.loader(self.splits["test"])
