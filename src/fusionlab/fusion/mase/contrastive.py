"""MASE's cross-modal contrastive loss L_cc (Sec. 3.3, Eq. 8), in its standard -log form.

Eq. 8 prints the InfoNCE ratio without log and sign; minimising that would push matching
pairs apart, so (as METHODS.md says) the loss is

    L_cc^i = sum_m sum_{k != m} -log( exp(h_i^m . h_i^k / tau) / sum_j exp(h_i^m . h_j^k / tau) )

over the batch's samples j. The vectors are L2-normalised first (cosine similarity, as CLIP):
raw dot products of 384- or 768-wide features are in the hundreds and would saturate the
softmax at any usable tau. A sample missing a modality (no image) takes no part in the
pairs of that modality, neither as anchor nor as candidate.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def cross_modal_infonce(features: list[torch.Tensor], present: list[torch.Tensor],
                        temperature: float) -> torch.Tensor:
    """Per-sample L_cc [B] for modality features [B, D] each, with ``present`` masks [B] (bool)."""
    normalised = [F.normalize(f, dim=-1) for f in features]
    total = features[0].new_zeros(features[0].size(0))
    for m, anchor in enumerate(normalised):
        for k, candidate in enumerate(normalised):
            if k == m or not present[k].any():
                continue
            logits = anchor @ candidate.T / temperature
            logits = logits.masked_fill(~present[k][None, :], float("-inf"))
            log_p = torch.diagonal(logits.log_softmax(dim=-1))
            valid = present[m] & present[k]
            total = total - torch.where(valid, log_p, torch.zeros_like(log_p))
    return total
