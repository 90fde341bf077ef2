"""MuSE's CrossTransformer (Zhu et al., ACL 2023, Sec. 3.2, Eq. 7-13).

One stack of post-norm Transformer encoder layers, **shared** by the text and the image
stream (Eq. 8-9: each stream starts with its own learned cls, Kaiming-initialised). Layers
1..mu are ordinary. An exchanging layer l, mu < l <= eta, runs

1. the self-attention sub-layer on each stream (Eq. 7), giving T~ and I~;
2. the exchange (Eq. 10-11): per sample and per stream, the theta-proportion of non-cls,
   non-padding tokens that cls attends to least (row 0 of the attention map, averaged over
   heads) get the other stream's token mean added (residual form);
3. the FFN sub-layer (Eq. 12-13).

The exchange is vectorised: a rank of the cls attention per row selects the tokens, a
masked mean gives the other stream's summary; no Python loop over samples or tokens (the
reference loops over both). A stream whose tokens are all padding (a missing image) sends
nothing. The number of tokens exchanged per sample is floor(theta * valid tokens).

With ``pack_tokens`` a stream with padding runs packed (``fusionlab.encoders.packing``): every linear
layer, LayerNorm and dropout computes its real tokens only; attention and the exchange see the stream padded.
The real tokens' states are the padded stack's to float rounding; padding comes back as zeros.

Which layers exchange (``exchange_start``): ``after_mu`` is Sec. 3.2's mu+1..eta; ``at_mu`` is
the reference code's reading, layers mu..eta (``replace_start=mu-1 .. replace_end=eta-1``,
0-based), which the paper's "start layer" wording and Fig. 4b fit (it plots mu = eta = 4, no
exchange at all under Sec. 3.2's reading). The FFN is BERT's (4 x width, GELU) unless ``ffn`` / ``activation`` say otherwise; the
reference uses PyTorch's layer defaults (2048, ReLU).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fusionlab.encoders.dropout import Dropout, attention
from fusionlab.encoders.packing import PackedTokens

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}
EXCHANGE_STARTS = ("after_mu", "at_mu")


class SharedLayer(nn.Module):
    """A post-norm Transformer encoder layer whose attention also returns cls's attention row."""

    def __init__(self, width: int, heads: int, ffn: int, dropout: float, activation: str = "gelu"):
        super().__init__()
        if width % heads:
            raise ValueError(f"CrossTransformer width {width} is not a multiple of {heads} heads")
        if activation not in ACTIVATIONS:
            raise ValueError(f"CrossTransformer activation must be one of {sorted(ACTIVATIONS)}, not {activation!r}")
        self.heads, self.dropout = heads, nn.Dropout(dropout)  # of the attention map and of both sub-layers
        self.qkv, self.out = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.norm_attention, self.norm_ffn = nn.LayerNorm(width), nn.LayerNorm(width)
        self.ffn = nn.Sequential(nn.Linear(width, ffn), ACTIVATIONS[activation](), nn.Dropout(dropout),
                                 nn.Linear(ffn, width))

    def attend(self, x: torch.Tensor, mask: torch.Tensor, cls_attention: bool = False,
               tokens: PackedTokens | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Self-attention sub-layer (Eq. 7) on [B, n, D] with key mask [B, n] (True = real token), or on the
        real tokens [T, D] of such a stream packed by ``tokens`` (the output is packed too).
        Returns the sub-layer output and, if asked, cls's attention to every token averaged over heads [B, n]
        (row 0 of the attention map only: the rest stays inside the attention function)."""
        projected = self.qkv(x) if tokens is None else tokens.unpack(self.qkv(x))
        q, k, v = (t.unflatten(-1, (self.heads, -1)).transpose(1, 2) for t in projected.chunk(3, dim=-1))
        key_mask = mask[:, None, None, :]
        attended = attention(q, k, v, key_mask, self.dropout.p if self.training else 0.0,
                             random_bits=isinstance(self.dropout, Dropout)).transpose(1, 2).flatten(2)
        attended = self.out(attended if tokens is None else tokens.pack(attended))
        output = self.norm_attention(x + self.dropout(attended))
        if not cls_attention:
            return output, None
        with torch.no_grad():  # the selection is discrete: no gradient flows through the ranking
            scores = (q[:, :, :1] @ k.transpose(-1, -2)) / math.sqrt(q.size(-1))  # [B, heads, 1, n]
            return output, scores.masked_fill(~key_mask, float("-inf")).softmax(-1).mean(dim=1)[:, 0]

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm_ffn(x + self.dropout(self.ffn(x)))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, tokens: PackedTokens | None = None) -> torch.Tensor:
        return self.feed_forward(self.attend(x, mask, tokens=tokens)[0])


def least_attended(cls_attention: torch.Tensor, mask: torch.Tensor, theta: float) -> torch.Tensor:
    """[B, n] boolean: per row, the floor(theta * valid) non-cls valid tokens with the smallest cls attention."""
    candidates = mask.clone()
    candidates[:, 0] = False  # cls never exchanges
    scores = cls_attention.masked_fill(~candidates, float("inf"))
    rank = scores.argsort(dim=1, stable=True).argsort(dim=1)
    quota = (theta * candidates.sum(dim=1)).floor().long()
    return (rank < quota[:, None]) & candidates


def token_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the non-cls valid tokens [B, D] (zeros where a stream has none)."""
    weights = mask.clone()
    weights[:, 0] = False
    weights = weights.to(x.dtype).unsqueeze(-1)
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def exchange(text: torch.Tensor, image: torch.Tensor, text_mask: torch.Tensor, image_mask: torch.Tensor,
             text_cls: torch.Tensor, image_cls: torch.Tensor, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 10-11 on the attention sub-layer outputs T~, I~ (cls at position 0)."""
    text_selected = least_attended(text_cls, text_mask, theta).unsqueeze(-1)
    image_selected = least_attended(image_cls, image_mask, theta).unsqueeze(-1)
    text_out = text + text_selected * token_mean(image, image_mask).unsqueeze(1)
    image_out = image + image_selected * token_mean(text, text_mask).unsqueeze(1)
    return text_out, image_out


class CrossTransformer(nn.Module):
    """Shared encoder stack over both streams with exchanging layers mu+1..eta (1-indexed; mu..eta
    with ``exchange_start=at_mu``)."""

    def __init__(self, width: int, heads: int, layers: int = 6, ffn: int | None = None, dropout: float = 0.1,
                 theta: float = 0.1, mu: int = 2, eta: int = 4, activation: str = "gelu",
                 exchange_start: str = "after_mu", pack_tokens: bool = True):
        super().__init__()
        if not 0.0 <= theta <= 1.0:
            raise ValueError(f"theta is a proportion in [0, 1], not {theta}")
        if exchange_start not in EXCHANGE_STARTS:
            raise ValueError(f"exchange_start must be one of {EXCHANGE_STARTS}, not {exchange_start!r}")
        self.layers = nn.ModuleList(SharedLayer(width, heads, ffn or 4 * width, dropout, activation)
                                    for _ in range(layers))
        self.text_cls, self.image_cls = nn.Parameter(torch.empty(1, 1, width)), nn.Parameter(torch.empty(1, 1, width))
        nn.init.kaiming_normal_(self.text_cls)  # Eq. 8-9, Kaiming initialisation as the paper
        nn.init.kaiming_normal_(self.image_cls)
        self.theta, self.eta, self.pack_tokens = theta, eta, pack_tokens
        self.first = mu + 1 if exchange_start == "after_mu" else mu  # the first exchanging layer, 1-indexed

    def exchanges_at(self, index: int) -> bool:
        """Whether layer ``index`` (0-based) is an exchanging layer."""
        return self.first <= index + 1 <= self.eta and self.theta > 0

    @staticmethod
    def with_cls(cls: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cls_mask = torch.ones(mask.size(0), 1, dtype=torch.bool, device=mask.device)
        return torch.cat([cls.expand(x.size(0), -1, -1), x], dim=1), torch.cat([cls_mask, mask.bool()], dim=1)

    def forward(self, text: torch.Tensor | None, text_mask: torch.Tensor | None, image: torch.Tensor | None = None,
                image_mask: torch.Tensor | None = None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """[B, n, D] text and [B, p, D] image tokens -> the streams with their cls first: [B, n+1, D], [B, p+1, D].
        A stream given as None is not run, and the other runs alone without exchange (MuSE-only-T, -only-I)."""
        if text is not None:
            text, text_mask = self.with_cls(self.text_cls, text, text_mask)
        if image is not None:
            image, image_mask = self.with_cls(self.image_cls, image, image_mask)
        text, text_tokens = self.packed(text, text_mask)
        image, image_tokens = self.packed(image, image_mask)
        both = text is not None and image is not None
        for index, layer in enumerate(self.layers):
            if both and self.exchanges_at(index):
                text, text_attention = layer.attend(text, text_mask, cls_attention=True, tokens=text_tokens)
                image, image_attention = layer.attend(image, image_mask, cls_attention=True, tokens=image_tokens)
                text, image = exchange(unpacked(text, text_tokens), unpacked(image, image_tokens), text_mask,
                                       image_mask, text_attention, image_attention, self.theta)
                text, image = repacked(text, text_tokens), repacked(image, image_tokens)
                text, image = layer.feed_forward(text), layer.feed_forward(image)
            else:
                text = layer(text, text_mask, text_tokens) if text is not None else None
                image = layer(image, image_mask, image_tokens) if image is not None else None
        return unpacked(text, text_tokens), unpacked(image, image_tokens)

    def packed(self, x: torch.Tensor | None, mask: torch.Tensor | None
               ) -> tuple[torch.Tensor | None, PackedTokens | None]:
        """A stream with padding as its real tokens [T, D] and their packing (with ``pack_tokens``); else as it is."""
        if x is None or not self.pack_tokens or bool(mask.all()):
            return x, None
        tokens = PackedTokens.of(mask)
        return tokens.pack(x), tokens


def unpacked(x: torch.Tensor | None, tokens: PackedTokens | None) -> torch.Tensor | None:
    """A stream back to [B, n, D] (zeros at the padding) if ``tokens`` packed it."""
    return x if tokens is None else tokens.unpack(x)


def repacked(x: torch.Tensor, tokens: PackedTokens | None) -> torch.Tensor:
    """An unpacked stream packed again by its ``tokens`` (none: as it is)."""
    return x if tokens is None else tokens.pack(x)
