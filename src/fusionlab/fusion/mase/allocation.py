"""MASE's E-step estimate of the allocation z (Sec. 3.4, Eq. 10-11).

I(h^m; y) = H(y) - H(y | h^m) is estimated by Monte Carlo over labelled sentences:

- H(y) is the plug-in entropy of the labels (nats);
- H(y | h^m) is bounded by the cross-entropy of a probe classifier q(y | h^m) on samples it
  was not fitted on (two folds, each scored by the probe fitted on the other), so that
  I >= H(y) - CE is the variational (Barber-Agakov) lower bound. METHODS.md suggests the
  probe's predictive entropy; the held-out cross-entropy is used instead because a
  miscalibrated, over-confident probe has a low predictive entropy without knowing y, and
  the bound cannot credit a modality with information it does not have;
- the probe is an L2-regularised logistic regression on standardised features, fitted by
  L-BFGS from zero (a convex problem: the estimate does not depend on a random init); the
  L2 strength is the best of a small grid on the held-out folds (slightly optimistic, as
  any tuned estimate; a weak fixed L2 lets the probe overfit a few hundred sentences, and
  the bound then reads 0 for every modality).

Sentences with several labels (entity types of a NER sentence, relations of a joint one)
are multi-hot; their entropies and cross-entropies are sums over the labels' binary ones.

z^m = I(h^m; y) / sum_m' I(h^m'; y) (Eq. 11); when no modality carries information (every
estimate 0, as before the model has learned anything) z falls back to uniform.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

FOLDS = 2
L2_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)  # weight of ||W||^2 in the probe's loss


def label_entropy(labels: torch.Tensor) -> float:
    """H(y) in nats: class ids [N] or multi-hot [N, K] (a sum of binary entropies)."""
    if labels.dim() == 2:
        p = labels.float().mean(0).clamp(1e-12, 1 - 1e-12)
        return float(-(p * p.log() + (1 - p) * (1 - p).log()).sum())
    p = torch.bincount(labels).float()
    p = p[p > 0] / p.sum()
    return float(-(p * p.log()).sum())


def _fit_probe(features: torch.Tensor, labels: torch.Tensor, classes: int, l2: float, steps: int):
    weight = torch.zeros(features.size(1), classes, requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = _cross_entropy(features @ weight + bias, labels) + l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimiser.step(closure)
    return weight.detach(), bias.detach()


def _cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    if labels.dim() == 2:  # summed over labels, averaged over sentences
        return F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none").sum(-1).mean()
    return F.cross_entropy(logits, labels)


def _cross_fitted(features: torch.Tensor, labels: torch.Tensor, l2: float, steps: int) -> float:
    classes = labels.size(1) if labels.dim() == 2 else int(labels.max()) + 1
    fold = torch.arange(len(labels)) % FOLDS
    total = 0.0
    for held in range(FOLDS):
        train, test = fold != held, fold == held
        mean, std = features[train].mean(0), features[train].std(0).clamp(min=1e-6)
        standardised = (features - mean) / std
        weight, bias = _fit_probe(standardised[train], labels[train], classes, l2, steps)
        ce = _cross_entropy(standardised[test] @ weight + bias, labels[test])
        total += float(ce) * int(test.sum())
    return total / len(labels)


def held_out_cross_entropy(features: torch.Tensor, labels: torch.Tensor, l2: tuple[float, ...] = L2_GRID,
                           steps: int = 100) -> float:
    """Cross-fitted probe cross-entropy (nats), an upper bound on H(y | h): the lowest over the
    L2 strengths ``l2`` (a few hundred sentences of 384+ features need a strong one)."""
    features, labels = features.detach().float().cpu(), labels.detach().cpu()
    return min(_cross_fitted(features, labels, strength, steps) for strength in l2)


def mutual_information(features: torch.Tensor, labels: torch.Tensor, **probe) -> float:
    """Eq. 10: I(h; y) = H(y) - H(y | h), clipped to [0, H(y)]."""
    entropy = label_entropy(labels)
    return min(entropy, max(0.0, entropy - held_out_cross_entropy(features, labels, **probe)))


def allocation(information: torch.Tensor) -> torch.Tensor:
    """Eq. 11: normalised mutual information; uniform when it is all zero."""
    total = information.sum()
    if total <= 0:
        return torch.full_like(information, 1.0 / len(information))
    return information / total
