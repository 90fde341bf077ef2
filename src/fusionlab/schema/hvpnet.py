"""HVPNeT's options (fusionlab.fusion.hvpnet.HVPNeT)."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from fusionlab.schema.choice import Choice
from fusionlab.schema.fusion import FusionConfig, Target


class Routing(Choice):
    gate = "gate"  # Eq. 3-4
    flat = "flat"  # the last stage, every layer
    groups = "groups"  # stage i -> the i-th layer group (HVPNeT-1T3)


class PrefixHeads(Choice):
    all = "all"  # every head sees every prefix token
    reshape = "reshape"  # the reference's reshape: head h sees the h-th 1/heads of the prefix


@dataclass
class HVPNeTOptions:
    routing: Routing = Routing.gate
    global_image: bool = True
    mapping_dim: int = 800
    layer_projection: bool = False
    prefix_heads: PrefixHeads = PrefixHeads.all


@dataclass
class HVPNeTModule(HVPNeTOptions, Target):
    pass


@dataclass
class HVPNeTConfig(FusionConfig):
    lr: float = MISSING  # the method's own learning rate (optim.lr)
    module: HVPNeTModule = field(default_factory=HVPNeTModule)
