"""Image files: transforms, global image + object crops, masks and the missing-image policy.

Missing-image policy: an image or crop that is absent or unreadable becomes an all-zero
tensor with its mask entry False, so fusion methods ignore it. Absent files are found
and counted when the datamodule sets up (``ImageStore.audit``); a file that fails to
decode later is logged and counted by the worker that met it.
"""

from __future__ import annotations

import functools
import json
import logging
from collections import Counter
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torchvision.transforms import v2

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_transform(size: int = 224, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> v2.Compose:
    return v2.Compose([
        v2.ToImage(),
        v2.Resize((size, size), antialias=True),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(list(mean), list(std)),
    ])


def load_aux_mapping(path: str | Path | None) -> dict[str, list[str]]:
    """HVPNeT's ``{image: [crop files]}`` mapping from a .pth or a .json file."""
    if not path:
        return {}
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"aux mapping {path} does not exist (expected {{image: [crop files]}} as .pth or .json)")
    mapping = torch.load(path, weights_only=False) if path.suffix == ".pth" else json.loads(path.read_text())
    if not isinstance(mapping, dict):
        raise ValueError(f"{path}: expected a dict {{image: [crop files]}}, found {type(mapping).__name__}")
    return {str(k): [str(c) for c in v] for k, v in mapping.items()}


class ImageStore:
    """Where an example's global image and object crops live, and how they are loaded."""

    def __init__(self, image_dir: str | None, aux_dir: str | None = None,
                 aux_mapping: dict[str, list[str]] | None = None, max_aux: int = 3, size: int = 224):
        self.image_dir = Path(image_dir) if image_dir else None
        self.aux_dir = Path(aux_dir) if aux_dir else None
        self.aux_mapping = aux_mapping or {}
        self.max_aux = max_aux
        self.size = size
        self.transform = build_transform(size)
        self.failed = Counter()

    @property
    def transform_id(self) -> str:
        return repr(self.transform)

    def image_path(self, image: str | None) -> Path | None:
        return self.image_dir / image if (image and self.image_dir) else None

    def aux_paths(self, image: str | None) -> list[Path]:
        if not image or self.aux_dir is None:
            return []
        return [self.aux_dir / crop for crop in self.aux_mapping.get(image, [])[: self.max_aux]]

    def audit(self, images: list[str | None], with_aux: bool) -> dict[str, int]:
        """Count absent global images (and crops, when loaded) of one split: the missing-image policy."""
        counts = {"missing_images": 0}
        if with_aux:
            counts.update(missing_aux=0, aux_slots_empty=0)
        for image in images:
            path = self.image_path(image)
            counts["missing_images"] += path is None or not path.is_file()
            if with_aux:
                crops = self.aux_paths(image)
                counts["missing_aux"] += sum(not p.is_file() for p in crops)
                counts["aux_slots_empty"] += self.max_aux - len(crops)
        return counts

    def load(self, path: Path | None, size: int | None = None) -> tuple[torch.Tensor, bool]:
        """The transformed image and True, or zeros and False when it cannot be had. With ``size``:
        the image as a generation target instead, ``size`` x ``size`` with values in [-1, 1]."""
        transform = self.transform if size is None else self._target_transform(size)
        if path is not None and path.is_file():
            try:
                with Image.open(path) as image:
                    return transform(image.convert("RGB")), True
            except (OSError, UnidentifiedImageError) as error:
                self.failed["unreadable_images"] += 1
                log.warning("unreadable image %s (%s): using the missing-image fallback", path, error)
        return torch.zeros(3, size or self.size, size or self.size), False

    @functools.cache
    def _target_transform(self, size: int) -> v2.Compose:
        return build_transform(size, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
