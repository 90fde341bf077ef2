"""PMEI's stochastic map (seed 002, Eq. 4-7, 14): t ~ p(t | h, y'), regularised towards r(t | y').

``p(t | h, y')`` is a diagonal Gaussian whose mean and standard deviation come from two
GRUCells (the paper's Eq. after (7): the early evidence y' is the cell's input and h its
hidden state, so z = sigma(W_z [h; y']), mu = (1 - z) * h + z * h~). ``cell="mlp"`` swaps
both cells for MLPs on [h; y'] (the "w/o GRU" ablation). ``stochastic=False`` keeps only
the mean cell and no prior (the "w/o SM" ablation: a deterministic map, no KL).

Deviations, on purpose: ``torch.nn.GRUCell`` applies the reset gate after the linear map of
h (W_hn (r * h) in the paper becomes r * (W_hn h)), the standard cuDNN form; the standard
deviation is ``softplus(output - 5)`` of the sigma cell (the paper needs it positive but does
not say how; the shift is the VIB reference's, and keeps the initial noise small: without it, a
laptop-size run reached 6 % exact-match triple F1 where PMEI-MTL reached 37 %). With no early evidence (the MTL_SM ablation) the prior is N(0, I), as in the
variational information bottleneck PMEI builds on (Alemi et al. 2017).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

CELLS = ("gru", "mlp")
SIGMA_SHIFT = 5.0


@dataclass
class Gaussian:
    mean: torch.Tensor
    std: torch.Tensor


def gaussian_kl(p: Gaussian, r: Gaussian) -> torch.Tensor:
    """KL(p || r) of diagonal Gaussians, summed over the last dimension (Eq. 14, closed form)."""
    return (torch.log(r.std / p.std) + (p.std ** 2 + (p.mean - r.mean) ** 2) / (2 * r.std ** 2) - 0.5).sum(-1)


def _mlp(inputs: int, hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden))


class _Cell(nn.Module):
    """One output of p(t | h, y'): a GRUCell (input y', state h) or an MLP on [h; y']."""

    def __init__(self, hidden: int, evidence: int, cell: str):
        super().__init__()
        self.cell = nn.GRUCell(evidence, hidden) if cell == "gru" else _mlp(hidden + evidence, hidden)

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if isinstance(self.cell, nn.GRUCell):
            return self.cell(y.flatten(0, -2), h.flatten(0, -2)).view_as(h)
        return self.cell(torch.cat([h, y], dim=-1))


class StochasticMap(nn.Module):
    """t from the shared state h [*, d] and the early evidence y' [*, k]; returns (t, KL per position)."""

    def __init__(self, hidden: int, evidence: int, cell: str = "gru", stochastic: bool = True):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"PMEI cell must be one of {CELLS}, not {cell!r}")
        self.stochastic = stochastic
        self.mean = _Cell(hidden, evidence, cell)  # GRUCell_mu
        if stochastic:
            self.std = _Cell(hidden, evidence, cell)  # GRUCell_sigma
            # r(t | y'): two MLPs on y' (Eq. 5-6); N(0, I) when there is no evidence
            self.prior_mean, self.prior_std = (_mlp(evidence, hidden), _mlp(evidence, hidden)) if evidence else (None, None)

    def posterior(self, h: torch.Tensor, y: torch.Tensor) -> Gaussian:
        # shifted softplus as in Alemi et al.'s VIB: sigma starts near 0.01, so the noise does not drown h
        return Gaussian(self.mean(h, y), F.softplus(self.std(h, y) - SIGMA_SHIFT) + 1e-6)

    def prior(self, h: torch.Tensor, y: torch.Tensor) -> Gaussian:
        if self.prior_mean is None:
            return Gaussian(torch.zeros_like(h), torch.ones_like(h))
        return Gaussian(self.prior_mean(y), F.softplus(self.prior_std(y)) + 1e-6)

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.stochastic:
            return self.mean(h, y), None
        p = self.posterior(h, y)
        t = p.mean + p.std * torch.randn_like(p.std) if self.training else p.mean  # reparameterised sample
        return t, gaussian_kl(p, self.prior(h, y))
