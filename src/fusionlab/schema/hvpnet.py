"""HVPNeT's options (fusionlab.fusion.hvpnet.HVPNeT)."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from fusionlab.schema.choice import Choice
from fusionlab.schema.fusion import FusionConfig, Target
from fusionlab.schema.registry import fusion_schema


class Routing(Choice):
    gate = "gate"  # Eq. 3-4
    flat = "flat"  # the last stage, every layer
    groups = "groups"  # stage i -> the i-th layer group (HVPNeT-1T3)


class PrefixHeads(Choice):
    all = "all"  # every head sees every prefix token
    reshape = "reshape"  # the reference's reshape: head h sees the h-th 1/heads of the prefix


@dataclass
class HVPNeTOptions:
    """HVPNeT (Chen et al., NAACL 2022 Findings). Every default lives here; conf/fusion/hvpnet.yaml and its
    variants hold only deliberate changes, each with its reason."""

    routing: Routing = Routing.gate  # gate (Eq. 3-4) | flat (last stage, every layer) | groups (stage i -> i-th layer group)
    global_image: bool = True  # false = object crops only
    mapping_dim: int = 800  # hidden width of each stage map M_i (reference: 800)
    layer_projection: bool = False  # true adds the paper's per-layer W_l^phi (Eq. 8) before the key/value split
    # How the prefix meets the heads (the paper writes Eq. 9 for one head): all = each prefix token's channels
    # split into the heads like any key, every head sees every token; reshape = the reference's
    # reshape(B, heads, -1, d_head) of the [16, d] prefix, head h sees only the h-th 1/heads of it
    # (4/3 of a token at BERT-base: heads 0-2 the global image, 3-5 crop 1, ...).
    prefix_heads: PrefixHeads = PrefixHeads.all


@dataclass
class HVPNeTModule(HVPNeTOptions, Target):
    pass


@fusion_schema("hvpnet")
@dataclass
class HVPNeTConfig(FusionConfig):
    lr: float = MISSING  # the method's own learning rate (optim.lr)
    module: HVPNeTModule = field(default_factory=HVPNeTModule)
