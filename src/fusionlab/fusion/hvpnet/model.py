"""HVPNeT: hierarchical visual prefix fusion (Chen et al., Findings of NAACL 2022).

Per image x in [I; o_1..o_m] (the global image and up to m object crops):

- Eq. 1-2, pyramid: the backbone's c stage maps, each average-pooled to one s x s grid (the vision
  encoder's ``pyramid_size``) and mapped per position to 2d values by a map of its own (M_i, the
  paper's 1x1 convolution widened to the reference's Linear-Tanh-Linear): V_i in R^{hw x 2d}, the hw
  positions being the prefix tokens.
- Eq. 3-4, dynamic gate of text layer l: g^(l) = softmax(LeakyReLU(W_l((1/c) sum_i P(V_i)))), P the
  average over the hw positions; each image gets its own gate.
- Eq. 5-6: V_gated^(l) = sum_i g_i^(l) V_i per image, concatenated over the images (hw(m+1) tokens).
- Eq. 8: each token splits into phi_k^l and phi_v^l in R^d (``layer_projection``: W_l^phi first).
- Eq. 9: the prefix joins the keys and values of every self-attention layer of the text encoder
  (``encoders/prefix_attention.py``); missing images and padded crops are masked. ``prefix_heads=all``
  lets every head see every prefix token; ``reshape`` is the reference's split of the prefix across heads.

Variants (Table 1): ``routing=gate`` (HVPNeT), ``flat`` (the last stage for every layer, no gate),
``groups`` (HVPNeT-1T3: stage i feeds the i-th group of layers), ``global_image=false`` (HVPNeT-OnlyObj).
Every difference from the paper and the reference code: docs/reproducing.md, HVPNeT.
"""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics import Metric

from fusionlab.encoders.prefix_attention import VisualPrefix, enable_prefix_attention
from fusionlab.fusion.base import Fused, FusionMethod
from fusionlab.fusion.hvpnet.gate_maps import GateMaps


class GateMean(Metric):
    """Mean gate value per text layer x backbone stage over the epoch, synchronised across processes."""

    def __init__(self, layers: int, stages: int):
        super().__init__()
        self.add_state("total", torch.zeros(layers, stages), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros(()), dist_reduce_fx="sum")

    def update(self, gates: torch.Tensor, mask: torch.Tensor) -> None:
        """``gates`` [B, M, L, c] for M images per sample; ``mask`` [B, M] marks the real images."""
        weights = mask.to(gates.dtype)[..., None, None]
        self.total += (gates.detach() * weights).sum(dim=(0, 1))
        self.count += weights.sum()

    def compute(self) -> torch.Tensor:
        return self.total / self.count.clamp(min=1)


class HVPNeT(FusionMethod):
    def __init__(self, task, text_encoder, vision_encoder, *, routing: str, global_image: bool, mapping_dim: int,
                 layer_projection: bool, prefix_heads: str):
        super().__init__(task, text_encoder, vision_encoder)
        config = text_encoder.model.config
        self.routing, self.global_image, self.prefix_heads = routing, global_image, prefix_heads
        self.layers, self.heads, hidden = config.num_hidden_layers, config.num_attention_heads, config.hidden_size
        channels = vision_encoder.stage_channels
        self.stages = [len(channels) - 1] if routing == "flat" else list(range(len(channels)))
        blocks = len(self.stages)
        self.mapping = nn.ModuleList(  # M_i, Eq. 1-2
            nn.Sequential(nn.Linear(channels[i], mapping_dim), nn.Tanh(), nn.Linear(mapping_dim, 2 * hidden))
            for i in self.stages)
        if routing == "gate":
            self.gates = nn.ModuleList(nn.Linear(2 * hidden, blocks) for _ in range(self.layers))  # W_l, Eq. 3
            self.gate_mean = GateMean(self.layers, blocks)
        else:  # fixed routes: one stage per layer
            stage_of_layer = [0] * self.layers if routing == "flat" else [l * blocks // self.layers for l in range(self.layers)]
            self.register_buffer("fixed_routes", F.one_hot(torch.tensor(stage_of_layer), blocks).float(), persistent=False)
        self.layer_projection = (nn.ModuleList(nn.Linear(2 * hidden, 2 * hidden) for _ in range(self.layers))
                                 if layer_projection else None)  # W_l^phi, Eq. 8
        enable_prefix_attention(text_encoder.model)
        self.output_size = hidden

    # --- Eq. 1-2 ---------------------------------------------------------------------------
    def images(self, batch: dict) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Pyramid features of the prefix images [B, M, C_i, s, s] and their mask [B, M]."""
        crops = self.visual_features(batch["aux"], batch["aux_mask"])
        if not self.global_image:
            return crops, batch["aux_mask"]
        whole = self.visual_features(batch["image"], batch["image_mask"])
        features = {k: torch.cat([whole[k].unsqueeze(1), crops[k]], dim=1) for k in crops}
        return features, torch.cat([batch["image_mask"].unsqueeze(1), batch["aux_mask"]], dim=1)

    def pyramid_blocks(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """V_1..V_c per image: [B, M, c, hw, 2d], one token per grid position."""
        return torch.stack([mapping(features[f"pyramid_{i}"].flatten(3).transpose(2, 3))  # [B, M, hw, C_i] -> 2d
                            for i, mapping in zip(self.stages, self.mapping)], dim=2)

    # --- Eq. 3-4 ---------------------------------------------------------------------------
    def routes(self, blocks: torch.Tensor) -> torch.Tensor:
        """g^(l) per image and layer: [B, M, L, c] (fixed one-hot routes for flat / groups)."""
        if self.routing != "gate":
            return self.fixed_routes.expand(*blocks.shape[:2], -1, -1)
        summary = blocks.mean(dim=3).mean(dim=2)  # (1/c) sum_i P(V_i): [B, M, 2d]
        logits = torch.stack([F.leaky_relu(gate(summary)) for gate in self.gates], dim=2)
        return logits.softmax(dim=-1)

    # --- Eq. 5-9 ---------------------------------------------------------------------------
    def visual_prefix(self, batch: dict) -> tuple[VisualPrefix, torch.Tensor, torch.Tensor]:
        """The prefix of every layer, the routes [B, M, L, c] and the image mask [B, M]."""
        features, image_mask = self.images(batch)
        blocks = self.pyramid_blocks(features)
        routes = self.routes(blocks)
        gated = torch.einsum("bmlc,bmcpe->blmpe", routes, blocks).flatten(2, 3)  # Eq. 5-6: [B, L, M*hw, 2d]
        per_layer = gated.unbind(1)  # one view per layer; its backward stacks their gradients once
        tokens = list(per_layer) if self.layer_projection is None else [
            projection(layer) for projection, layer in zip(self.layer_projection, per_layer)]
        mask = image_mask.repeat_interleave(blocks.size(3), dim=1)
        return self.head_prefix(tokens, mask), routes, image_mask

    def head_prefix(self, tokens: list[torch.Tensor], mask: torch.Tensor) -> VisualPrefix:
        """Eq. 8's split of each layer's [B, P, 2d] prefix into phi_k, phi_v, then into heads
        (``prefix_heads``); ``mask`` [B, P] marks the real tokens."""
        def split(x):  # [B, P, d] -> [B, heads, P, d_head]
            if self.prefix_heads == "reshape":
                return x.reshape(x.size(0), self.heads, -1, x.size(-1) // self.heads)
            return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

        keys, values = zip(*(map(split, t.chunk(2, dim=-1)) for t in tokens))
        if self.prefix_heads == "reshape":  # the token each d_head-wide piece comes from
            count, width = mask.size(1), tokens[0].size(-1) // 2
            source = torch.arange(self.heads * count, device=mask.device) * (width // self.heads) // width
            mask = mask[:, source].view(-1, self.heads, count)
        return VisualPrefix(list(keys), list(values), mask)

    def fuse(self, batch):
        prefix, routes, image_mask = self.visual_prefix(batch)
        if self.training and self.routing == "gate":
            self.gate_mean.update(routes, image_mask)
        return Fused(self.text_for_head(batch, visual_prefix=prefix))

    def callbacks(self) -> list[L.Callback]:
        return [GateMaps(self)] if self.routing == "gate" else []

    def gate_means(self) -> dict[str, torch.Tensor]:
        """The epoch's mean gate per text layer and stage (``gate/layer<l>_stage<i>``), then reset."""
        means = self.gate_mean.compute()
        self.gate_mean.reset()
        return {f"gate/layer{l}_stage{self.stages[i]}": means[l, i]
                for l in range(self.layers) for i in range(len(self.stages))}

    @torch.no_grad()
    def gate_values(self, batch: dict) -> torch.Tensor:
        """Gates of each sample's first prefix image (the global one, unless objects only): [B, L, c]."""
        features, _ = self.images(batch)
        return self.routes(self.pyramid_blocks(features))[:, 0]
