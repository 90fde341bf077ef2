"""MASE's options (fusionlab.fusion.mase.MASE)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fusionlab.schema.choice import Choice
from fusionlab.schema.fusion import FusionConfig, Target
from fusionlab.schema.pooled_image import ImageStages
from fusionlab.schema.registry import fusion_schema


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
    """MASE (ACM MM 2024 submission). Every default lives here; conf/fusion/mase.yaml and its variants hold
    only deliberate changes, each with its reason."""

    # text first; `proxy` = the contrastive text tower of encoder.proxy (CLIP: the image proxy). The paper uses
    # proxies only (image, audio, video; no real data): [text, proxy] is its image-only form. Default: the real image
    modalities: list[Modality] = field(default_factory=lambda: [Modality.text, Modality.image])
    combine: Combine = Combine.weighted  # weighted (Eq. 1) | concat (MPB)
    # E-step allocation (Eq. 10-11); false = z stays uniform. The paper's MI estimator is unpublished: here a
    # cross-fitted logistic probe, I = H(y) - held-out CE, reading h^T where the task head reads it: [CLS]
    # (msa), [<s>; <o>] (mre), and for mner/joint (per-word heads, sentence-level E-step labels: the set of
    # entity / relation types) the mean over words of their first sub-tokens. image/proxy: their sentence vector.
    balance: bool = True
    # MSSG + heterogeneous GAT (Eq. 12-14). Nodes read their words; the text block of the output is added
    # where the head reads: the words (mner, joint), also the <s>/<o> marker of the marked pair (mre),
    # [CLS] for the sentence node (msa). Added residually (the paper does not say add or replace).
    entity: bool = True
    # EM rounds, evenly spaced over training; round 0 trains with uniform z (paper: 10 rounds over 3 epochs,
    # 0.3 epoch per M-step if evenly spaced; it does not say). Under +preset=laptop (150 steps) that is 15
    # steps per M-step and 9 E-steps, each reading all 400 training sentences; em_iterations=3 is much cheaper
    # for quick runs (docs/reproducing.md, MASE). 10 stays the default: the paper's.
    em_iterations: int = 10
    estimation_samples: int | None = 1000  # training sentences each E-step reads (null = all)
    # L_cc (Eq. 8) pairs the text's [CLS] state with the image/proxy vectors on every task (one D-wide vector
    # per modality; mre's head reads the 2D-wide marker pair), within the batch
    alpha: float = 0.1  # weight of L_cc (Eq. 9; not given in the paper)
    temperature: float = 0.1  # tau of L_cc (Eq. 8, as -log InfoNCE on cosine similarity; not given in the paper)
    heads: int = 4  # K heads of the HGAT (not given in the paper)
    graph_builder_kind: GraphBuilderKind = GraphBuilderKind.auto  # auto (SceneGraphParser when installed, else rules)
    max_entities: int = 12  # entity nodes per sentence
    image_stages: ImageStages = ImageStages.all  # backbone stages pooled into the image feature: all | last
    dropout: float = 0.1


@dataclass
class MASEModule(MASEOptions, Target):
    pass


@fusion_schema("mase")
@dataclass
class MASEConfig(FusionConfig):
    module: MASEModule = field(default_factory=MASEModule)
