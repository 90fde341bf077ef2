"""What a run's data holds and lacks, counted and warned: per split its examples, truncations, images and
crops found or missing; labels first seen in val or test; a method that reads images but found none.
The counts go into ``results.json`` (``data``) and ``fusionlab.check`` prints them."""

from __future__ import annotations

import logging
from pathlib import Path

from fusionlab.data.dataset import MultimodalDataset
from fusionlab.data.example import Example
from fusionlab.data.images import ImageStore
from fusionlab.data.tagging import unrepresentable_triples
from fusionlab.data.task import DataTask

log = logging.getLogger(__name__)


def _for_instance(paths: list[Path]) -> str:
    """`` (e.g. a.jpg, b.jpg)``: the first absent files a warning names (none where sentences have no image)."""
    return f" (e.g. {', '.join(p.name for p in paths)})" if paths else ""


def unseen_labels(name: str, task: DataTask, examples: dict[str, list[Example]], stats: dict) -> None:
    """Labels first seen in val or test: counted, named and warned; the heads never get them."""
    for split in ("val", "test"):
        unseen = task.data.unseen_labels(examples[split])
        if unseen:
            stats.setdefault("unseen_labels", {})[split] = unseen
            log.warning("%s %s: %d labels not in the training split (%s): scored as misses",
                        name, split, len(unseen), ", ".join(f"{k} x{v}" for k, v in unseen.items()))


def split_counts(name: str, split: str, dataset: MultimodalDataset, store: ImageStore, *, task_name: str,
                 reads_images: bool, load_aux: bool, max_aux: int, max_length: int) -> dict:
    """One split's counts, each shortfall warned."""
    examples = dataset.examples
    counts = store.audit([e.image for e in examples], load_aux, [e.crop_key for e in examples]) if reads_images else {}
    row = {"examples": len(dataset), "truncated": dataset.truncated, "targets_cut": dataset.targets_cut, **counts}
    if task_name == "joint":  # gold triples the tagger cannot output: in the gold, scored as misses
        row["triples_unrepresentable"] = sum(map(unrepresentable_triples, examples))
    if dataset.targets_cut:
        log.warning("%s %s: in %d of %d sentences, max_length=%d cut off what the %s head reads (entity "
                    "markers are then read at [CLS]); raise data.max_length", name, split,
                    dataset.targets_cut, len(dataset), max_length, task_name)
    if counts.get("missing_images"):
        log.warning("%s %s: %d of %d images missing in %s%s; they are masked (missing-image policy)",
                    name, split, counts["missing_images"], len(dataset), store.image_dir,
                    _for_instance(store.absent["images"]))
    if counts.get("missing_aux"):
        named = len(dataset) * max_aux - counts["aux_slots_empty"] - counts.get("aux_outside_folder", 0)
        log.warning("%s %s: %d of the %d crops the mapping names are missing in %s%s; their slots are "
                    "masked (missing-image policy)", name, split, counts["missing_aux"],
                    named, store.aux_dir, _for_instance(store.absent["aux"]))
    if counts.get("aux_outside_folder"):
        log.warning("%s %s: %d of the crops the mapping lists lie outside the crop folder %s (e.g. %s); they "
                    "are never opened, and their slots are masked", name, split,
                    counts["aux_outside_folder"], store.aux_dir, ", ".join(map(str, store.absent["outside"])))
    return row


def absent_modalities(name: str, stats: dict, stores: dict[str, ImageStore], unreadable: dict[str, str], *,
                      load_aux: bool, max_aux: int, aux_mapping) -> None:
    """A method that reads images but found none (or crops, and found none) is effectively text-only:
    one prominent warning, and a flag in results.json that the report shows."""
    splits = stats["splits"]
    found = sum(s["examples"] - s["missing_images"] for s in splits.values()) - len(unreadable)
    if found <= 0:
        stats["no_images_found"] = True
        log.warning("%s: NO IMAGE FOUND in any split (looked in %s): this run is effectively text-only",
                    name, sorted({str(s.image_dir) for s in stores.values()}))
    if load_aux:
        slots = sum(s["examples"] for s in splits.values()) * max_aux
        crops = slots - sum(s["aux_slots_empty"] + s["missing_aux"] + s.get("aux_outside_folder", 0)
                            for s in splits.values())
        if crops <= 0:
            stats["no_crops_found"] = True
            log.warning("%s: NO OBJECT CROP FOUND in any split (crop folders %s, mappings %s): every crop slot "
                        "is empty", name, sorted({str(s.aux_dir) for s in stores.values()}), aux_mapping)
