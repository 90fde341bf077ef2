"""PMEI's options (fusionlab.fusion.pmei.PMEI). Its base is a whole fusion config nested at ``fusion.base``
(the ``fusion/base`` group: text_only, concat or hvpnet), checked by that fusion's own schema while composing;
``module.base`` is the base's module, which PMEI builds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from fusionlab.schema.choice import Choice
from fusionlab.schema.fusion import FusionConfig, Target
from fusionlab.schema.registry import fusion_schema


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
    """PMEI (Sun et al., AAAI 2021). Every default lives here; conf/fusion/pmei.yaml and its variants hold
    only deliberate changes, each with its reason."""

    base: Any = MISSING  # the shared H: the base fusion's module (_target_ and options), built without its head
    bilstm: bool = False  # a BiLSTM over H, as in the paper's GloVe models
    early: bool = True  # early classifiers C'_e, C'_r and their loss L'
    interaction: bool = True  # every map reads y' = [y'_e ; maxpool_j y'_r]
    map: Map = Map.stochastic  # stochastic | deterministic (w/o SM) | none (MTL)
    cell: Cell = Cell.gru  # gru | mlp (w/o GRU: Linear-tanh-Linear on [h; y']) | linear (the reference's w/o GRU)
    # sigma of p(t | h, y') and r(t | y'), which the paper leaves open: softplus of the cell's output,
    # which starts sigma at the scale of h as the reference's form does; square = the reference's form,
    # variance = output^2 + 1e-8 (its prior's variance starts at the floor where an output crosses 0:
    # the KL is huge on tiny runs, and pmei learned nothing at +preset=laptop: docs/reproducing.md).
    sigma: Sigma = Sigma.softplus
    alpha: float = math.exp(-2)  # weight of L' (paper Fig. 3A: best e^-2 partial, e^-3 exact match)
    # Weights of L_ICe and L_ICr, Eq. 15: each KL is summed over t's width and the sentence's tokens
    # (Eq. 14) and averaged over the batch's sentences, like L and L', as in the reference; the maps
    # run at every sub-token, so with BERT the sum also runs over word pieces and [CLS]/[SEP] (the
    # paper's and the reference's GloVe sentences are words). t is sampled in training only: at
    # inference it is the mean of p (the reference samples one t at test too; the paper does not say).
    # Paper Fig. 3B (alpha = e^-2): best e^-7 on partial match, e^-6 on exact match.
    beta_e: float = math.exp(-7)
    beta_r: float = math.exp(-7)


@dataclass
class PMEIModule(PMEIOptions, Target):
    _recursive_: bool = False  # PMEI builds its base itself, with the task and the encoders


@fusion_schema("pmei")
@dataclass
class PMEIConfig(FusionConfig):
    module: PMEIModule = field(default_factory=PMEIModule)
    base: Any = None  # the base fusion's whole config (conf/fusion/base/<name>.yaml: name, declaration, module)
