"""MuSE's options (fusionlab.fusion.muse.MuSE), its decoders' sizes among them."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from fusionlab.schema.choice import Choice
from fusionlab.schema.fusion import FusionConfig, Target
from fusionlab.schema.registry import fusion_schema


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
    """PixelCNN++ (fusionlab.fusion.muse.image_decoder.ConditionalPixelCNN), sized for a CPU. PixelCNN++
    (Salimans et al., ICLR 2017) uses 160 filters; MuSE's reference code 80 filters, 5 blocks, 10 components
    (the paper configs, conf/experiment/muse_*.yaml)."""

    filters: int = 32
    blocks: int = 1
    components: int = 5
    dropout: float = 0.5  # of whole channels in each gated block, as the reference (nn.Dropout2d)


@dataclass
class TextDecoderOptions:
    """The captioner (fusionlab.fusion.muse.text_decoder.AttentionCaptioner), sized for a CPU; the reference
    code: 512 / 512 / 512 (the paper configs)."""

    embed_dim: int = 128
    hidden_dim: int = 256
    attention_dim: int = 128
    dropout: float = 0.5
    penalty: float = 1.0


@dataclass
class MuSEOptions:
    """MuSE (Zhu et al., ACL 2023). Every default lives here; conf/fusion/muse.yaml and its variants hold
    only deliberate changes, each with its reason. What is not an option: docs/reproducing.md (MuSE)."""

    streams: Streams = Streams.both  # both | text (MuSE-only-T) | image (MuSE-only-I, task=msa only)
    cross_transformer: bool = True  # false = MuSE-w/o-CT: encoders -> [T_e; mean I_e] -> FC
    layers: int = 6  # CrossTransformer depth (paper: 6)
    heads: int | None = None  # null = the text encoder's number of heads
    theta: float = 0.1  # exchanged proportion of tokens (paper default)
    mu: int = 2  # layers 1..mu are ordinary
    eta: int = 4  # layers mu+1..eta exchange
    # after_mu: layers mu+1..eta exchange (Sec. 3.2) | at_mu: layers mu..eta, the reference code's reading
    # (replace_start=1, replace_end=3: layers 2-4), which the paper's "start layer" and Fig. 4b fit.
    exchange_start: ExchangeStart = ExchangeStart.after_mu
    ffn: int | None = None  # FFN width; null = 4 x width (3072 at BERT-base). The reference: 2048
    activation: Activation = Activation.gelu  # the reference: relu, PyTorch's layer default
    dropout: float = 0.1  # paper searches {0.1, 0.2, 0.3, 0.4}; the reference's scripts use 0.2
    # Eq. 14's regularisers, switched on or off (Table 3's ablations switch them; a switched-off term's
    # decoder is not built), apart from their weights alpha and beta, which a paper config sets per dataset.
    l_it: bool = True  # L_it, the captioning loss (Eq. 4, 6)
    l_ti: bool = True  # L_ti, the PixelCNN++ loss (Eq. 3, 5)
    alpha: float = 0.001  # weight of L_it (the reference's value)
    beta: float = 0.001  # weight of L_ti (the reference's value)
    token_join: TokenJoin = TokenJoin.cls  # cls | position (the reference joins text position i with image position i)
    # mean: L_task + alpha L_it + beta L_ti with L_ti the per-image NLL averaged over the batch |
    # reference: the reference's calculate_multi_loss, L_task / s + alpha L_it / s + beta (NLL summed over the
    # batch) / 32^2, s = max_seq_length (msa/mre task losses are not divided: the reference scales its MSA
    # cross-entropy by s first; nor is any with L_it and L_ti off, as the reference's MuSE-only-L_task script
    # main_ct.py). Relative to the task loss, at batch B and s = 64, reference weighs beta L_ti
    # B/16 x and alpha L_it 1 x what mean does on mner; B/1024 x and 1/64 x on msa.
    loss_weighting: LossWeighting = LossWeighting.mean
    max_seq_length: int = 64  # s above, and the longest caption (words) under caption_vocabulary=words
    # wordpiece: the captioner predicts the text encoder's tokens (30,522 for BERT) | words: the reference's
    # vocabulary, lower-cased training words seen >= caption_min_count times, fitted when training starts and
    # kept in checkpoints (Twitter-2015: 4,656 with the four specials)
    caption_vocabulary: CaptionVocabulary = CaptionVocabulary.wordpiece
    caption_min_count: int = 2
    image_decoder: ImageDecoderOptions = field(default_factory=ImageDecoderOptions)
    text_decoder: TextDecoderOptions = field(default_factory=TextDecoderOptions)


@dataclass
class MuSEModule(MuSEOptions, Target):
    pass


@fusion_schema("muse")
@dataclass
class MuSEConfig(FusionConfig):
    lr: float = MISSING  # the method's own learning rate (optim.lr)
    module: MuSEModule = field(default_factory=MuSEModule)
