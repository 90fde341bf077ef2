"""What every fusion config holds beside its method's options: its name, its method and its declaration
of what it serves and needs, which fusionlab.config.checks reads before any data is touched."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from fusionlab.schema.choice import Choice


class TaskName(Choice):
    mner = "mner"
    mre = "mre"
    joint = "joint"
    msa = "msa"


class ImageMode(Choice):
    pixels = "pixels"  # the datamodule loads images (as pixels, or as cached features of them)
    none = "none"  # no image is read, and no vision encoder is built


@dataclass
class Needs:
    """What the datamodule loads for the method (its keywords image_mode, load_aux, target_pixels)."""

    image_mode: ImageMode = MISSING
    load_aux: bool = MISSING  # the object crops
    target_pixels: int | None = MISSING  # the image's side as a generation target; null: none


@dataclass
class Declaration:
    tasks: list[TaskName] = MISSING  # the tasks the method serves
    needs: Needs = MISSING
    encoders: dict[str, str] = MISSING  # extra encoders: constructor argument -> key of the encoder config


@dataclass
class Target:
    _target_: str = MISSING  # the method's class, which its options are the keywords of


@dataclass
class FusionConfig:
    name: str = MISSING  # the run's fusion (a variant's own name)
    family: str = MISSING  # the method
    declaration: Declaration = field(default_factory=Declaration)
