"""Graded test-time corruptions for robustness curves (MultiBench's protocol): ``level`` 0 is the clean test
set, 1 the strongest. Every corruption is seeded, so the same level corrupts the same way for every method.

- ``missing_images``: a share ``level`` of the test sentences lose their image (the missing-image policy);
- ``token_mask``: each word is replaced by the tokenizer's unknown token with probability ``level``;
- ``char_noise``: each word gets one random character edit (swap, drop or repeat) with probability ``level``;
- ``image_noise``: Gaussian noise of standard deviation ``level`` on pixels in [0, 1];
- ``image_blur``: Gaussian blur of sigma ``4 * level`` pixels (at 224 x 224);
- ``image_occlusion``: a black square over the image's centre covering a share ``level`` of its area.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

import torch
from torchvision.transforms.v2 import functional as TF

from fusionlab.data.example import Example

TEXT_KINDS = ("token_mask", "char_noise")
IMAGE_KINDS = ("image_noise", "image_blur", "image_occlusion")
KINDS = ("none", "missing_images", *TEXT_KINDS, *IMAGE_KINDS)


def check(kind: str, level: float) -> None:
    if kind not in KINDS:
        raise ValueError(f"data.test_corruption.kind={kind!r}: choose one of {KINDS}")
    if not 0 <= level <= 1:
        raise ValueError(f"data.test_corruption.level={level}: must be in [0, 1]")


def _edit(word: str, rng: random.Random) -> str:
    if len(word) < 2:
        return word + word
    at = rng.randrange(len(word) - 1)
    edit = rng.choice(("swap", "drop", "repeat"))
    if edit == "swap":
        return word[:at] + word[at + 1] + word[at] + word[at + 2:]
    return word[:at] + word[at + 1:] if edit == "drop" else word[:at + 1] + word[at:]


def corrupt_examples(examples: list[Example], kind: str, level: float, seed: int, unknown: str) -> list[Example]:
    """The test examples with a text corruption or missing images (labels, spans and groups unchanged)."""
    rng = random.Random(seed)
    if kind == "missing_images":
        removed = set(rng.sample(range(len(examples)), round(level * len(examples))))
        return [replace(e, image=None) if i in removed else e for i, e in enumerate(examples)]
    if kind == "token_mask":
        return [replace(e, words=[unknown if rng.random() < level else w for w in e.words]) for e in examples]
    if kind == "char_noise":
        return [replace(e, words=[_edit(w, rng) if rng.random() < level else w for w in e.words]) for e in examples]
    return examples


class ImageCorruption:
    """An image corruption on a float image in [0, 1] ([3, H, W]), placed in the transform before the
    normalisation; its repr names kind and level, so cached features of corrupted images are kept apart."""

    def __init__(self, kind: str, level: float, seed: int = 0):
        self.kind, self.level, self.seed = kind, level, seed

    def __repr__(self) -> str:
        return f"ImageCorruption({self.kind}, {self.level}, seed={self.seed})"

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if self.level == 0:
            return image
        if self.kind == "image_noise":
            noise = torch.randn(image.shape, generator=torch.Generator().manual_seed(self.seed))
            return (image + self.level * noise).clamp(0, 1)
        if self.kind == "image_blur":
            sigma = 4 * self.level * image.shape[-1] / 224
            return TF.gaussian_blur(image, kernel_size=2 * math.ceil(3 * sigma) + 1, sigma=sigma)
        height, width = image.shape[-2:]  # image_occlusion
        side_h, side_w = round(height * math.sqrt(self.level)), round(width * math.sqrt(self.level))
        top, left = (height - side_h) // 2, (width - side_w) // 2
        occluded = image.clone()
        occluded[..., top:top + side_h, left:left + side_w] = 0
        return occluded
