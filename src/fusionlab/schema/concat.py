"""The concat baseline's options (fusionlab.fusion.concat.Concat)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fusionlab.schema.fusion import FusionConfig, Target
from fusionlab.schema.pooled_image import ImageStages
from fusionlab.schema.registry import fusion_schema


@dataclass
class ConcatOptions:
    """Every default lives here; conf/fusion/concat.yaml holds only deliberate changes, each with its reason."""

    image_dim: int = 128
    dropout: float = 0.1
    stages: ImageStages = ImageStages.all  # all = every backbone stage pooled (the visual information HVPNeT reads)


@dataclass
class ConcatModule(ConcatOptions, Target):
    pass


@fusion_schema("concat")
@dataclass
class ConcatConfig(FusionConfig):
    module: ConcatModule = field(default_factory=ConcatModule)
