"""PMEI's stochastic map (Sun et al., AAAI 2021, Eq. 4-7, 14): t ~ p(t | h, y'), regularised towards r(t | y').

``p(t | h, y')`` is a diagonal Gaussian whose mean and standard deviation come from two cells
on h and y' (the paper's equations after Eq. 7). ``cell`` picks them:

* ``gru``: two GRUCells, y' the input and h the hidden state (PMEI);
* ``mlp``: two MLPs on [h; y'] ("PMEI w/o GRU", Table 6). The paper says only "an MLP"; its
  form, Linear -> tanh -> Linear of t's width, is that of the reference's MLPs for r;
* ``linear``: one Linear on [h; y'] each, the reference code's "w/o GRU" (its ``model.py``).

``r(t | y')`` is two MLPs on y' (Eq. 5-6 text), Linear -> tanh -> Linear as in the reference;
N(0, I) when there is no early evidence (MTL_SM; the VIB prior of Alemi et al. 2017).
``stochastic=False`` keeps only the mean cell and no prior ("w/o SM": deterministic, no KL).

sigma (the paper needs it positive and says no more): ``sigma="softplus"`` (default) is
softplus of the sigma cell's output (and of f^sigma's), so sigma starts at the scale of h.
``sigma="square"`` is the reference code's variance, output^2 + 1e-8: wherever an output crosses 0
the prior's variance sits at that floor and the KL outweighs the task loss even at beta = e^-7
(docs/reproducing.md, "Defaults chosen on the synthetic benchmark").

The prior reads a detached copy of y', as the reference does (the paper is silent): the KL
trains the prior and the posterior, never the early classifiers through the prior.

Deviation from the paper (the reference uses the same cell): ``torch.nn.GRUCell`` applies the reset gate after the linear map of h (W_hn (r * h)
in the paper becomes r * (W_hn h), the cuDNN form) and writes the update as (1 - z) * h~ + z * h
(the paper's z is PyTorch's 1 - z: the same family of maps).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

CELLS = ("gru", "mlp", "linear")
VARIANCE_FLOOR = 1e-8  # the reference's: sigma^2 = output^2 + 1e-8
SIGMAS = {"softplus": lambda output: F.softplus(output) + 1e-6,
          "square": lambda output: torch.sqrt(output * output + VARIANCE_FLOOR)}


@dataclass
class Gaussian:
    mean: torch.Tensor
    std: torch.Tensor


def gaussian_kl(p: Gaussian, r: Gaussian) -> torch.Tensor:
    """KL(p || r) of diagonal Gaussians in float32, summed over the last dimension (Eq. 14, closed form)."""
    p_mean, p_std, r_mean, r_std = (x.float() for x in (p.mean, p.std, r.mean, r.std))
    return (torch.log(r_std) - torch.log(p_std) + (p_std ** 2 + (p_mean - r_mean) ** 2) / (2 * r_std ** 2)
            - 0.5).sum(-1)


def _mlp(inputs: int, width: int) -> nn.Module:
    return nn.Sequential(nn.Linear(inputs, width), nn.Tanh(), nn.Linear(width, width))


class _Cell(nn.Module):
    """One output of p(t | h, y'): a GRUCell (input y', state h), or an MLP or Linear on [h; y']."""

    def __init__(self, hidden: int, evidence: int, cell: str):
        super().__init__()
        self.cell = {"gru": lambda: nn.GRUCell(evidence, hidden), "mlp": lambda: _mlp(hidden + evidence, hidden),
                     "linear": lambda: nn.Linear(hidden + evidence, hidden)}[cell]()

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if isinstance(self.cell, nn.GRUCell):
            return self.cell(y.flatten(0, -2), h.flatten(0, -2)).view_as(h)
        return self.cell(torch.cat([h, y], dim=-1))


class StochasticMap(nn.Module):
    """t from the shared state h [*, d] and the early evidence y' [*, k]; returns (t, KL per position)."""

    def __init__(self, hidden: int, evidence: int, cell: str = "gru", stochastic: bool = True,
                 sigma: str = "softplus"):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"PMEI cell must be one of {CELLS}, not {cell!r}")
        if sigma not in SIGMAS:
            raise ValueError(f"PMEI sigma must be one of {sorted(SIGMAS)}, not {sigma!r}")
        self.stochastic, self.sigma = stochastic, SIGMAS[sigma]
        self.mean = _Cell(hidden, evidence, cell)  # GRUCell_mu
        if stochastic:
            self.std = _Cell(hidden, evidence, cell)  # GRUCell_sigma
            self.prior_mean, self.prior_std = ((_mlp(evidence, hidden), _mlp(evidence, hidden)) if evidence
                                               else (None, None))

    def posterior(self, h: torch.Tensor, y: torch.Tensor) -> Gaussian:
        return Gaussian(self.mean(h, y), self.sigma(self.std(h, y)))

    def prior(self, h: torch.Tensor, y: torch.Tensor) -> Gaussian:
        if self.prior_mean is None:
            return Gaussian(torch.zeros_like(h), torch.ones_like(h))
        return Gaussian(self.prior_mean(y), self.sigma(self.prior_std(y)))

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.stochastic:
            return self.mean(h, y), None
        p = self.posterior(h, y)
        t = p.mean + p.std * torch.randn_like(p.std) if self.training else p.mean  # reparameterised sample
        return t, gaussian_kl(p, self.prior(h, y.detach()))
