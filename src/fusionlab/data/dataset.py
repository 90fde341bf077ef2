"""What a DataLoader serves: one split's examples, tokenised, with their images (pixels, cached features
or none), and the collation of items into a batch."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset, get_worker_info

from fusionlab.data.encoding import encode_words, pad
from fusionlab.data.example import Example
from fusionlab.data.feature_cache import FeatureCache
from fusionlab.data.images import ImageStore
from fusionlab.data.task import DataTask


class MultimodalDataset(Dataset):
    def __init__(self, examples: list[Example], task: DataTask, tokenizer, max_length: int,
                 store: ImageStore, image_mode: str, load_aux: bool, cache: FeatureCache | None, template=None,
                 target_pixels: int | None = None):
        self.examples, self.task, self.store = examples, task, store
        self.image_mode, self.load_aux, self.cache, self.template = image_mode, load_aux, cache, template
        self.target_pixels = target_pixels
        self.encoded = [encode_words(task.data.words(e), tokenizer, max_length) for e in examples]
        self.truncated = sum(e.truncated for e in self.encoded)
        self.targets_cut = sum(task.data.target_cut(e, encoded) for e, encoded in zip(examples, self.encoded))
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
                **self.task.data.targets(example, encoded)}
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
                 **self.task.data.collate(items, word_index.size(1))}
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
