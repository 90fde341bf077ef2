"""The text-only baseline's options (fusionlab.fusion.text_only.TextOnly): it has none."""

from __future__ import annotations

from dataclasses import dataclass, field

from fusionlab.schema.fusion import FusionConfig, Target
from fusionlab.schema.registry import fusion_schema


@dataclass
class TextOnlyOptions:
    pass


@dataclass
class TextOnlyModule(TextOnlyOptions, Target):
    pass


@fusion_schema("text_only")
@dataclass
class TextOnlyConfig(FusionConfig):
    module: TextOnlyModule = field(default_factory=TextOnlyModule)
