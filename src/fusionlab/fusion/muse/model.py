"""MuSE: exchanging-based multimodal fusion with Transformer (Zhu et al., ACL 2023).

- Eq. 1-2: T_e = TextEncoder(T) [B, n, d]; I_e = Linear(ImageEncoder(I)), the backbone's last map pooled
  to an 8 x 8 grid (the vision encoder's ``grid``): 64 tokens.
- Eq. 3-6 (training only): T_n = MLP(T_e + N(0, 1)), I_n = MLP(I_e + N(0, 1)); L_ti = -log p(I_32 | T_n)
  under a text-conditioned PixelCNN++ (``image_decoder.py``), L_it the attention captioner's loss for the
  sentence given I_n (``text_decoder.py``); samples without an image are left out of both.
- Eq. 7-13: the CrossTransformer (``cross_transformer.py``) over T_e and I_e.
- Output: F_e = FC([T_out; I_out,cls]) per text position; the fused cls takes [CLS]'s place, which is
  what sentence heads read.
- Eq. 14: L = L_task + alpha L_it + beta L_ti; ``loss_weighting=reference`` rescales the terms as the
  reference's ``calculate_multi_loss`` (``task_loss_weight``; a loss summed over words is divided by s).

Variants (Table 3) are options: ``streams=text|image`` (MuSE-only-T, -only-I), ``cross_transformer=false``
(MuSE-w/o-CT), ``l_it`` / ``l_ti`` = false (MuSE-only-L_task, -w/o-L_it, -w/o-L_ti; a decoder switched off
is not built), apart from the weights so that a paper config's alpha and beta never undo an ablation. The
captioner's words (``caption_vocabulary``): WordPieces, or the reference's word vocabulary fitted on the
training sentences (``prepare``). Every difference from the paper and the reference: docs/reproducing.md, MuSE.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.nn import functional as F

from fusionlab.fusion.base import Fused, FusionMethod
from fusionlab.fusion.muse.cross_transformer import CrossTransformer
from fusionlab.fusion.muse.image_decoder import ConditionalPixelCNN
from fusionlab.fusion.muse.text_decoder import AttentionCaptioner

DECODER_PIXELS = 32


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.to(x.dtype).unsqueeze(-1)
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class MuSE(FusionMethod):
    def __init__(self, task, text_encoder, vision_encoder, *, streams: str, cross_transformer: bool, layers: int,
                 heads: int | None, theta: float, mu: int, eta: int, exchange_start: str, ffn: int | None,
                 activation: str, dropout: float, l_it: bool, l_ti: bool, alpha: float, beta: float,
                 token_join: str, loss_weighting: str, max_seq_length: int, caption_vocabulary: str,
                 caption_min_count: int, image_decoder: dict, text_decoder: dict):
        super().__init__(task, text_encoder, vision_encoder)
        width = text_encoder.hidden_size
        self.streams, self.token_join = streams, token_join
        self.alpha, self.beta = alpha if l_it else 0.0, beta if l_ti else 0.0  # Eq. 14's weights, 0 when off
        self.loss_weighting, self.max_seq_length = loss_weighting, max_seq_length
        self.caption_vocabulary, self.caption_min_count = caption_vocabulary, caption_min_count
        self.image_projection = nn.Linear(vision_encoder.grid_channels, width)  # Eq. 2
        self.cross = (CrossTransformer(width, heads or text_encoder.model.config.num_attention_heads, layers,
                                       ffn=ffn, dropout=dropout, theta=theta, mu=mu, eta=eta, activation=activation,
                                       exchange_start=exchange_start, pack_tokens=text_encoder.pack_tokens)
                      if cross_transformer else None)
        joined = 2 * width if streams == "both" else width
        self.output = nn.Sequential(nn.Linear(joined, width), nn.Dropout(dropout))  # the FC giving F_e
        noisy = lambda: nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, width))  # noqa: E731
        if self.beta > 0:  # Eq. 3, 5
            self.text_regulariser = noisy()
            self.image_decoder = ConditionalPixelCNN(width, **image_decoder)
        if self.alpha > 0:  # Eq. 4, 6
            self.image_regulariser = noisy()
            self.text_decoder = AttentionCaptioner(width, len(text_encoder.tokenizer), **text_decoder,
                                                   words=caption_vocabulary == "words")
        self.output_size = width

    # --- the captioner's word vocabulary ---------------------------------------------------
    def fit_caption_vocabulary(self, sentences: Iterable[list[str]]) -> None:
        """The reference's caption vocabulary from the training sentences (words lists); kept in checkpoints."""
        self.text_decoder.fit_words(sentences, self.caption_min_count)

    def prepare(self, training_examples: list) -> None:
        """Fit the word vocabulary on the training sentences, unless one is there already (a loaded checkpoint's)."""
        if self.alpha > 0 and self.caption_vocabulary == "words" and self.text_decoder.word_vocabulary is None:
            self.fit_caption_vocabulary(e.words for e in training_examples)

    def captions(self, batch: dict, present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The sentences the captioner reads (those with an image): WordPiece ids, or word ids."""
        if self.caption_vocabulary == "wordpiece":
            return batch["input_ids"][present], batch["attention_mask"][present]
        sentences = [example.words for example, keep in zip(batch["examples"], present.tolist()) if keep]
        return self.text_decoder.captions(sentences, self.max_seq_length)

    # --- Eq. 1-2 ---------------------------------------------------------------------------
    def image_tokens(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """I_e [B, 64, d] from the 8 x 8 grid and its token mask [B, 64] (False for a missing image)."""
        grid = self.visual_features(batch["image"], batch["image_mask"])["grid"]
        tokens = self.image_projection(grid.flatten(2).transpose(1, 2))
        return tokens, batch["image_mask"].bool()[:, None].expand(-1, tokens.size(1))

    # --- Eq. 3-6 ---------------------------------------------------------------------------
    def regularisers(self, text, text_mask, image, batch) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """alpha L_it and beta L_ti (Eq. 14's auxiliary terms) as ``loss_weighting`` scales them, and their raw
        values (L_ti per image); samples without an image are left out."""
        present = batch["image_mask"].bool()
        reference = self.loss_weighting == "reference"
        weighted, raw = {}, {}
        if self.beta > 0:
            condition = masked_mean(self.text_regulariser(text + torch.randn_like(text)), text_mask)  # Eq. 3
            nll = (self.image_decoder.nll(batch["image_target"][present], condition[present])  # Eq. 5
                   if present.any() else text.new_zeros(1))
            raw["l_ti"] = nll.mean()
            weighted["beta_l_ti"] = self.beta * (nll.sum() / DECODER_PIXELS ** 2 if reference else nll.mean())
        if self.alpha > 0:
            features = self.image_regulariser(image + torch.randn_like(image))  # Eq. 4
            l_it = (self.text_decoder.loss(features[present], *self.captions(batch, present))  # Eq. 6
                    if present.any() else image.new_zeros(()))
            raw["l_it"] = l_it
            weighted["alpha_l_it"] = self.alpha * (l_it / self.max_seq_length if reference else l_it)
        return weighted, raw

    def task_loss_weight(self) -> float:
        """Eq. 14, the task loss divided by s under reference weighting (see the module docstring)."""
        divided = (self.loss_weighting == "reference" and self.task.loss_sums_words
                   and (self.alpha > 0 or self.beta > 0))
        return 1 / self.max_seq_length if divided else 1.0

    # --- Eq. 7-13 and the output -----------------------------------------------------------
    def fuse(self, batch):
        text_mask = batch["attention_mask"].bool()
        needs_text = self.streams != "image" or self.training and self.beta > 0
        text = self.encode_text(batch) if needs_text else None
        needs_image = self.streams != "text" or self.training and self.alpha > 0
        image, image_mask = self.image_tokens(batch) if needs_image else (None, None)
        losses, logs = self.regularisers(text, text_mask, image, batch) if self.training else ({}, {})
        return Fused(self.fused_states(text, text_mask, image, image_mask), losses, logs)

    def fused_states(self, text, text_mask, image, image_mask) -> torch.Tensor:
        """F_e at the text positions [B, n, d], the fused cls (when there is one) at position 0."""
        if self.streams == "image":  # MuSE-only-I: the image stream alone; its cls (or mean) at every position
            pooled = (self.cross(None, None, image, image_mask)[1][:, 0] if self.cross is not None
                      else masked_mean(image, image_mask))
            return self.output(pooled).unsqueeze(1).expand(-1, text_mask.size(1), -1)
        if self.cross is None:  # MuSE-w/o-CT
            pooled = masked_mean(image, image_mask).unsqueeze(1).expand_as(text)
            return self.output(torch.cat([text, pooled], dim=-1))
        text_out, image_out = self.cross(text, text_mask, *((image, image_mask) if self.streams != "text" else ()))
        if self.streams == "text":
            fused = self.output(text_out)
        else:
            fused = self.output(torch.cat([text_out, self.image_partner(image_out, text_out.size(1))], dim=-1))
        return torch.cat([fused[:, :1], fused[:, 2:]], dim=1)  # the learned cls replaces the encoder's [CLS]

    def image_partner(self, image_out: torch.Tensor, length: int) -> torch.Tensor:
        """What joins each text position: the image cls state, or image position i (zeros past the grid)."""
        if self.token_join == "cls":
            return image_out[:, :1].expand(-1, length, -1)
        return F.pad(image_out, (0, 0, 0, max(0, length - image_out.size(1))))[:, :length]
