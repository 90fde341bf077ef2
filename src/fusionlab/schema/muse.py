"""MuSE's options (fusionlab.fusion.muse.MuSE), its decoders' sizes among them."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from fusionlab.schema.choice import Choice
from fusionlab.schema.fusion import FusionConfig, Target


class Streams(Choice):
    both = "both"
    text = "text"  # MuSE-only-T
    image = "image"  # MuSE-only-I


class ExchangeStart(Choice):
    after_mu = "after_mu"  # layers mu+1..eta exchange (Sec. 3.2)
    at_mu = "at_mu"  # layers mu..eta (the reference code)


class Activation(Choice):
    gelu = "gelu"
    relu = "relu"


class LossWeighting(Choice):
    mean = "mean"
    reference = "reference"


class TokenJoin(Choice):
    cls = "cls"
    position = "position"


class CaptionVocabulary(Choice):
    wordpiece = "wordpiece"
    words = "words"


@dataclass
class ImageDecoderOptions:
    """PixelCNN++ (fusionlab.fusion.muse.image_decoder.ConditionalPixelCNN)."""

    filters: int = 32
    blocks: int = 2
    components: int = 5
    dropout: float = 0.5


@dataclass
class TextDecoderOptions:
    """The captioner (fusionlab.fusion.muse.text_decoder.AttentionCaptioner)."""

    embed_dim: int = 256
    hidden_dim: int = 512
    attention_dim: int = 256
    dropout: float = 0.5
    penalty: float = 1.0


@dataclass
class MuSEOptions:
    streams: Streams = Streams.both
    cross_transformer: bool = True
    layers: int = 6
    heads: int | None = None
    theta: float = 0.1
    mu: int = 2
    eta: int = 4
    exchange_start: ExchangeStart = ExchangeStart.after_mu
    ffn: int | None = None
    activation: Activation = Activation.gelu
    dropout: float = 0.1
    alpha: float = 0.001
    beta: float = 0.001
    token_join: TokenJoin = TokenJoin.cls
    loss_weighting: LossWeighting = LossWeighting.mean
    max_seq_length: int = 64
    caption_vocabulary: CaptionVocabulary = CaptionVocabulary.wordpiece
    caption_min_count: int = 2
    image_decoder: ImageDecoderOptions | None = None
    text_decoder: TextDecoderOptions | None = None


@dataclass
class MuSEModule(MuSEOptions, Target):
    pass


@dataclass
class MuSEConfig(FusionConfig):
    lr: float = MISSING  # the method's own learning rate (optim.lr)
    module: MuSEModule = field(default_factory=MuSEModule)
