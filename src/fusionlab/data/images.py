"""Image files: transforms, global image + object crops, masks and the missing-image policy.

Missing-image policy: an image or crop that is absent or unreadable (empty, truncated, not
an image, a decompression bomb) becomes an all-zero tensor with its mask entry False, so
fusion methods ignore it; with cached features it gets all-zero features. Absent files are
counted per split when the datamodule sets up (``ImageStore.audit``, which keeps the first few
absent paths for the warning). Unreadable files are
kept in ``ImageStore.unreadable`` (path -> reason): each is counted and warned about (with
its path) once, the first time it fails, and not read again. The audit already opens every
header, and filling the feature cache decodes every image, in the main process; a file that
fails only when decoded in a DataLoader worker (``num_workers > 0``) is warned about by that
worker and reaches the main process's count with the batch (``FusionDataModule``).

Names stay inside their folders: a crop the mapping lists outside the crop folder (absolute, or climbing
out with ``..``) is never opened; its slot is masked like an absent crop's and counted apart
(``aux_outside_folder``). Image names come from split files, whose readers refuse such names with
file:line; one that reaches the store anyway is an error.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2

from fusionlab.data.readers.names import climbs_out

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# What reading a bad file raises: OSError (and PIL's UnidentifiedImageError), SyntaxError
# (PIL's "broken PNG file") and DecompressionBombError (over 2 * Image.MAX_IMAGE_PIXELS).
UNREADABLE = (OSError, SyntaxError, Image.DecompressionBombError)
T = TypeVar("T")
ABSENT_SHOWN = 3  # absent paths a split's warning names


def build_transform(size: int = 224, mean=IMAGENET_MEAN, std=IMAGENET_STD, corruption=None) -> v2.Compose:
    """Resize, scale to [0, 1], then (robustness protocol) a corruption, then normalise."""
    return v2.Compose([
        v2.ToImage(),
        v2.Resize((size, size), antialias=True),
        v2.ToDtype(torch.float32, scale=True),
        *([corruption] if corruption is not None else []),
        v2.Normalize(list(mean), list(std)),
    ])


def to_rgb(image: Image.Image) -> Image.Image:
    """``image`` as 8-bit RGB. Integer greyscale (modes ``I;16*`` and ``I``, as 16-bit PNGs open)
    is scaled from 0..65535 to 0..255: ``convert("RGB")`` alone clips it to white."""
    if image.mode.startswith("I"):
        values = np.asarray(image, dtype=np.float64) / 257
        image = Image.fromarray(np.clip(values.round(), 0, 255).astype(np.uint8))
    return image.convert("RGB")


def load_aux_mapping(path: str | Path) -> dict[str, list[str]]:
    """HVPNeT's ``{key: [crop files]}`` mapping (key: image file name, or MNRE's 0-based line index) from a .pth
    or a .json file; keys are returned as strings."""
    path = Path(path)
    mapping = torch.load(path, weights_only=True) if path.suffix == ".pth" else json.loads(path.read_text())
    if not isinstance(mapping, dict):
        raise ValueError(f"{path}: expected a dict {{image: [crop files]}}, found {type(mapping).__name__}")
    return {str(k): [str(c) for c in v] for k, v in mapping.items()}


def inside(folder: Path, name: str) -> Path | None:
    """``folder / name``, or None where that leaves ``folder``. A name that could climb out (absolute, or
    with ``..``) is resolved, symlinks and all, against the resolved folder; a plain relative name stays
    inside as written (a symlink the folder itself holds is its owner's choice, and is followed)."""
    path = folder / name
    if climbs_out(name) and not path.resolve().is_relative_to(folder.resolve()):
        return None
    return path


class ImageStore:
    """Where an example's global image and object crops live, and how they are loaded."""

    def __init__(self, image_dir: str | None, aux_dir: str | None = None,
                 aux_mapping: dict[str, list[str]] | None = None, max_aux: int = 3, size: int = 224,
                 unreadable: dict[str, str] | None = None, corruption=None):
        self.image_dir = Path(image_dir) if image_dir else None
        self.aux_dir = Path(aux_dir) if aux_dir else None
        self.aux_mapping = aux_mapping or {}
        self.max_aux = max_aux
        self.size = size
        self.transform = build_transform(size, corruption=corruption)
        # path -> why: the missing-image policy's count (one dict shared by the stores of a dataset's splits)
        self.unreadable: dict[str, str] = {} if unreadable is None else unreadable
        # the first absent paths ``audit`` met, and the first crops listed outside the crop folder
        self.absent: dict[str, list[Path]] = {"images": [], "aux": [], "outside": []}

    @property
    def transform_id(self) -> str:
        return repr(self.transform)

    def image_path(self, image: str | None) -> Path | None:
        """Where ``image`` lies in the image folder; a name that leaves the folder raises ``ValueError``."""
        if not (image and self.image_dir):
            return None
        path = inside(self.image_dir, image)
        if path is None:
            raise ValueError(f"image {image!r} is outside the image folder {self.image_dir}")
        return path

    def listed_crops(self, image: str | None, key: str | None = None) -> list[str]:
        """The first ``max_aux`` crop names the mapping lists under ``key`` (a sentence's own key where the
        mapping is per sentence, as HVPNeT's MNRE), or else under the image's file name."""
        if not image or self.aux_dir is None:
            return []
        return self.aux_mapping.get(image if key is None else key, [])[: self.max_aux]

    def aux_paths(self, image: str | None, key: str | None = None) -> list[Path]:
        """The paths of ``listed_crops`` inside the crop folder; one listed outside it is left out (masked)."""
        paths = (inside(self.aux_dir, crop) for crop in self.listed_crops(image, key))
        return [path for path in paths if path is not None]

    def audit(self, images: list[str | None], with_aux: bool, keys: list[str | None] | None = None) -> dict[str, int]:
        """Count absent global images (and crops, when loaded: ``keys`` are the sentences' crop keys) of one
        split, and open the headers of the present ones: a file that cannot be opened goes to ``unreadable``.
        Crops listed outside the crop folder are counted under ``aux_outside_folder`` where there are any."""
        counts, self.absent = {"missing_images": 0}, {"images": [], "aux": [], "outside": []}
        outside = 0
        if with_aux:
            counts.update(missing_aux=0, aux_slots_empty=0)
        for image, key in zip(images, keys or [None] * len(images)):
            path = self.image_path(image)
            files = [path] if path is not None and path.is_file() else []
            counts["missing_images"] += not files
            if not files and path is not None:
                self._note_absent("images", [path])
            if with_aux:
                listed, crops = self.listed_crops(image, key), self.aux_paths(image, key)
                present = [p for p in crops if p.is_file()]
                counts["missing_aux"] += len(crops) - len(present)
                counts["aux_slots_empty"] += self.max_aux - len(listed)
                outside += len(listed) - len(crops)
                self._note_absent("aux", [p for p in crops if p not in present])
                self._note_absent("outside", [self.aux_dir / c for c in listed if inside(self.aux_dir, c) is None])
                files += present
            for file in files:
                self._read(file, lambda _: True)
        return counts | ({"aux_outside_folder": outside} if outside else {})

    def _note_absent(self, kind: str, paths: list[Path]) -> None:
        shown = self.absent[kind]
        for path in paths:
            if len(shown) < ABSENT_SHOWN and path not in shown:
                shown.append(path)

    def mark_unreadable(self, path: Path, reason: str) -> None:
        """Record ``path`` under the missing-image policy; warn with its path the first time only."""
        if str(path) not in self.unreadable:
            self.unreadable[str(path)] = reason
            log.warning("unreadable image %s (%s): using the missing-image fallback", path, reason)

    def _read(self, path: Path, decode: Callable[[Image.Image], T]) -> T | None:
        """``decode`` of the opened image, or None when the file is (or turns out) unreadable."""
        if str(path) in self.unreadable:
            return None
        try:
            with Image.open(path) as image:
                return decode(image)
        except UNREADABLE as error:
            self.mark_unreadable(path, f"{type(error).__name__}: {error}")
            return None

    def load(self, path: Path | None, size: int | None = None) -> tuple[torch.Tensor, bool]:
        """The transformed image and True, or zeros and False when it cannot be had. With ``size``:
        the image as a generation target instead, ``size`` x ``size`` with values in [-1, 1]."""
        transform = self.transform if size is None else self._target_transform(size)
        if path is not None and path.is_file():
            pixels = self._read(path, lambda image: transform(to_rgb(image)))
            if pixels is not None:
                return pixels, True
        return torch.zeros(3, size or self.size, size or self.size), False

    @functools.cache
    def _target_transform(self, size: int) -> v2.Compose:
        return build_transform(size, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
