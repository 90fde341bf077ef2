"""PMEI's options (fusionlab.fusion.pmei.PMEI). ``base_options`` are the base's own options: they are
checked against the base's schema once the base is known (fusionlab.config_checks), still before any data."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from fusionlab.schema.choice import Choice
from fusionlab.schema.fusion import Declaration, FusionConfig, Needs, Target


class Base(Choice):
    text_only = "text_only"
    concat = "concat"
    hvpnet = "hvpnet"


class Map(Choice):
    stochastic = "stochastic"
    deterministic = "deterministic"  # w/o SM
    none = "none"  # MTL


class Cell(Choice):
    gru = "gru"
    mlp = "mlp"  # w/o GRU
    linear = "linear"  # the reference code's w/o GRU


class Sigma(Choice):
    softplus = "softplus"
    square = "square"  # the reference's variance, output^2 + 1e-8


@dataclass
class PMEIOptions:
    base: Base = Base.hvpnet
    base_options: dict[str, Any] = field(default_factory=dict)
    bilstm: bool = False
    early: bool = True
    interaction: bool = True
    map: Map = Map.stochastic
    cell: Cell = Cell.gru
    sigma: Sigma = Sigma.softplus
    alpha: float = math.exp(-2)
    beta_e: float = math.exp(-7)
    beta_r: float = math.exp(-7)


@dataclass
class PMEIModule(PMEIOptions, Target):
    pass


@dataclass
class PMEIDeclaration(Declaration):
    needs_by_base: dict[Base, Needs] = MISSING  # what each base loads: PMEI's needs are its base's


@dataclass
class PMEIConfig(FusionConfig):
    declaration: PMEIDeclaration = field(default_factory=PMEIDeclaration)
    module: PMEIModule = field(default_factory=PMEIModule)
