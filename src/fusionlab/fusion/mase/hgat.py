"""MASE's heterogeneous graph attention over the MSSG (Sec. 3.5, Eq. 12-14).

For head k and the type r of the edge j -> i:

- Eq. 12: F(H_i, H_j) = a^[k,r]T [W^[k,r] H_i || W^[k,r] H_j], computed as
  a_1^[k,r] . W^[k,r] H_i + a_2^[k,r] . W^[k,r] H_j (the two halves of a);
- Eq. 13: alpha_ij = softmax over the neighbours j' of i of sigma(F(H_i, H_j')), sigma the
  LeakyReLU(0.2) of GAT; every (neighbour, edge type) pair is one entry of that softmax;
- Eq. 14: H^_i = ||_k ELU(sum_j alpha_ij^[k,r] W^[k,r] H_j).

Each edge type has its own W and a per head (the difference from GAT). The output has the
input's width (K heads of width/K), so it splits back into the per-modality blocks.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class HeterogeneousGAT(nn.Module):
    def __init__(self, width: int, edge_types: int, heads: int = 4, negative_slope: float = 0.2):
        super().__init__()
        if width % heads:
            raise ValueError(f"HGAT width {width} is not divisible by its {heads} heads")
        head_width = width // heads
        self.weight = nn.Parameter(torch.empty(edge_types, heads, width, head_width))  # W^[k,r]
        self.attention = nn.Parameter(torch.empty(edge_types, heads, 2, head_width))  # a^[k,r] = [a_1; a_2]
        nn.init.xavier_uniform_(self.weight.view(-1, width, head_width))
        nn.init.xavier_uniform_(self.attention.view(-1, 2, head_width))
        self.negative_slope = negative_slope

    def forward(self, nodes: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        """``nodes`` [B, N, width]; ``adjacency`` [B, R, N, N] bool, [b, r, i, j] = an edge j -> i of
        type r. A node without neighbours gets zeros."""
        projected = torch.einsum("bnf,rkfd->brknd", nodes, self.weight)  # W^[k,r] H
        receiver = (projected * self.attention[:, :, 0, None]).sum(-1)  # a_1 . W H_i  [B, R, K, N]
        sender = (projected * self.attention[:, :, 1, None]).sum(-1)  # a_2 . W H_j
        scores = F.leaky_relu(receiver[..., :, None] + sender[..., None, :], self.negative_slope)  # Eq. 12-13
        scores = scores.masked_fill(~adjacency[:, :, None], float("-inf"))  # [B, R, K, i, j]
        scores = scores.permute(0, 2, 3, 1, 4)  # [B, K, i, R, j]: softmax over every (type, neighbour)
        weights = torch.softmax(scores.flatten(-2), dim=-1).view_as(scores).nan_to_num(0.0)
        messages = torch.einsum("bkirj,brkjd->bkid", weights, projected)  # Eq. 14
        return F.elu(messages).permute(0, 2, 1, 3).flatten(-2)
