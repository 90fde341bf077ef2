"""On-disk cache of a frozen vision encoder's features, one file per image or crop file (so the crops of MNRE
lines that share an image, each line's own files, never mix).

The key hashes the encoder's identity, the store's transform (a test-time corruption included) and the
image file (absolute path, size, modification time), so changing any of them misses the cache and
recomputes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from fusionlab.console.progress import progress
from fusionlab.data.images import ImageStore


class FeatureCache:
    def __init__(self, root: str | Path, encoder_id: str):
        self.root = Path(root)
        self.encoder_id = encoder_id

    def entry(self, image: Path, store: ImageStore) -> Path:
        stat = image.stat()
        ident = f"{self.encoder_id}|{store.transform_id}|{image.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        digest = hashlib.sha1(ident.encode()).hexdigest()
        return self.root / digest[:2] / f"{digest}.pt"

    def get(self, image: Path | None, store: ImageStore) -> dict[str, torch.Tensor] | None:
        """The cached features of ``image``, or None under the missing-image policy: absent, unreadable
        (``fill`` recorded it in ``store``), or without an entry (recorded now: changed since ``fill``)."""
        if image is None or not image.is_file() or str(image) in store.unreadable:
            return None
        try:
            return torch.load(self.entry(image, store), weights_only=True)
        except FileNotFoundError:
            store.mark_unreadable(image, "no cached features: the file changed after the feature cache was filled")
            return None

    @torch.no_grad()
    def fill(self, images: list[Path], encoder: torch.nn.Module, store: ImageStore, batch_size: int = 64) -> int:
        """Compute and store the features of every readable image not cached yet; return how many.
        The unreadable ones go to ``store.unreadable`` (each run finds them again: they are never cached)."""
        todo = [p for p in dict.fromkeys(images) if p.is_file() and not self.entry(p, store).exists()]
        encoder.eval()
        device = next(encoder.parameters()).device
        stored = 0
        bar = progress(len(todo), "image features", unit="image")
        for first in range(0, len(todo), batch_size):
            chunk = todo[first:first + batch_size]
            bar.update(len(chunk))
            loaded = [store.load(p) for p in chunk]
            kept = [(p, pixels) for p, (pixels, ok) in zip(chunk, loaded) if ok]
            if not kept:
                continue
            features = encoder(torch.stack([pixels for _, pixels in kept]).to(device))
            for row, (path, _) in enumerate(kept):
                target = self.entry(path, store)
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_suffix(f".{os.getpid()}.tmp")  # atomic: parallel runs share the cache
                torch.save({k: v[row].detach().cpu().clone() for k, v in features.items()}, partial)
                os.replace(partial, target)
            stored += len(kept)
        bar.close()
        return stored


def filled_cache(cache_dir: str | Path, encoder: torch.nn.Module, examples: dict[str, list], stores: dict[str, ImageStore],
                 load_aux: bool, image_size: int) -> tuple[FeatureCache, dict[str, torch.Tensor], dict[str, int]]:
    """The cache filled for every split's images (and, with ``load_aux``, crops); the zero features a missing
    image gets (the missing-image policy); how many entries were computed, of how many images."""
    cache = FeatureCache(cache_dir, encoder.identity)
    computed = images = 0
    for split, store in stores.items():
        paths = [p for e in examples[split]
                 for p in [store.image_path(e.image), *(store.aux_paths(e.image, e.crop_key) if load_aux else [])] if p]
        computed, images = computed + cache.fill(paths, encoder, store), images + len(set(paths))
    with torch.no_grad():
        device = next(encoder.parameters()).device
        template = {k: torch.zeros_like(v[0]).cpu() for k, v in encoder(
            torch.zeros(1, 3, image_size, image_size, device=device)).items()}
    return cache, template, {"computed": computed, "images": images}
