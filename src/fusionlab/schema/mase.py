"""MASE's options (fusionlab.fusion.mase.MASE)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fusionlab.schema.choice import Choice
from fusionlab.schema.fusion import FusionConfig, Target
from fusionlab.schema.pooled_image import ImageStages


class Modality(Choice):
    text = "text"
    image = "image"
    proxy = "proxy"  # the contrastive text tower of encoder.proxy


class Combine(Choice):
    weighted = "weighted"  # Eq. 1
    concat = "concat"  # MPB


class GraphBuilderKind(Choice):
    auto = "auto"
    rules = "rules"
    parser = "parser"


@dataclass
class MASEOptions:
    modalities: list[Modality] = field(default_factory=lambda: [Modality.text, Modality.image])
    combine: Combine = Combine.weighted
    balance: bool = True
    entity: bool = True
    em_iterations: int = 10
    estimation_samples: int | None = 1000
    alpha: float = 0.1
    temperature: float = 0.1
    heads: int = 4
    graph_builder_kind: GraphBuilderKind = GraphBuilderKind.auto
    max_entities: int = 12
    image_stages: ImageStages = ImageStages.all
    dropout: float = 0.1


@dataclass
class MASEModule(MASEOptions, Target):
    pass


@dataclass
class MASEConfig(FusionConfig):
    module: MASEModule = field(default_factory=MASEModule)
