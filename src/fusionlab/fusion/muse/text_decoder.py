"""MuSE's TextDecoder (Eq. 6): an attention LSTM captioner (Show, Attend and Tell; Xu et al., 2015).

Over the annotation vectors a_1..a_P (here I_n, the regularised image tokens) the LSTM starts
from h_0, c_0 = MLPs of the mean annotation; at step t soft attention
alpha_t = softmax(w^T tanh(W_a a_i + W_h h_{t-1})), a gating scalar beta_t = sigmoid(f_beta(h_{t-1}))
scales the context z_t = beta_t sum_i alpha_ti a_i, and the LSTM reads [E y_{t-1}; z_t].
Teacher forcing on the input sentence's own token ids; the loss L_it is the token cross-entropy
over real (non-padding) targets plus the doubly stochastic attention penalty
lambda sum_i (1 - sum_t alpha_ti)^2 of the reference, averaged over the batch.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class AttentionCaptioner(nn.Module):
    def __init__(self, feature_dim: int, vocab_size: int, embed_dim: int = 256, hidden_dim: int = 512,
                 attention_dim: int = 256, dropout: float = 0.5, penalty: float = 1.0):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.init_h, self.init_c = nn.Linear(feature_dim, hidden_dim), nn.Linear(feature_dim, hidden_dim)
        self.attend_features = nn.Linear(feature_dim, attention_dim)
        self.attend_hidden = nn.Linear(hidden_dim, attention_dim)
        self.attention_score = nn.Linear(attention_dim, 1)
        self.gate = nn.Linear(hidden_dim, feature_dim)  # f_beta
        self.cell = nn.LSTMCell(embed_dim + feature_dim, hidden_dim)
        self.dropout = nn.Dropout(dropout)
        self.vocabulary = nn.Linear(hidden_dim, vocab_size)
        self.penalty = penalty

    def forward(self, features: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced logits [B, n-1, V] for tokens[:, 1:] and attention weights [B, n-1, P]."""
        mean = features.mean(dim=1)
        h, c = torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean))
        keys = self.attend_features(features)
        inputs = self.embed(tokens[:, :-1])
        states, weights = [], []
        for step in range(inputs.size(1)):  # an RNN: the loop over time steps is the model
            alpha = self.attention_score(torch.tanh(keys + self.attend_hidden(h).unsqueeze(1))).squeeze(-1).softmax(-1)
            context = torch.sigmoid(self.gate(h)) * (alpha.unsqueeze(-1) * features).sum(dim=1)
            h, c = self.cell(torch.cat([inputs[:, step], context], dim=-1), (h, c))
            states.append(h)
            weights.append(alpha)
        # The vocabulary projection reads no recurrent state: one matmul over all steps, not one per step.
        return self.vocabulary(self.dropout(torch.stack(states, dim=1))), torch.stack(weights, dim=1)

    def loss(self, features: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """L_it: cross-entropy over the real target tokens + the doubly stochastic attention penalty."""
        logits, weights = self(features, tokens)
        targets = mask[:, 1:].bool()
        cross_entropy = F.cross_entropy(logits[targets], tokens[:, 1:][targets])
        coverage = (weights * targets.unsqueeze(-1).to(weights.dtype)).sum(dim=1)  # sum_t alpha_ti over real steps
        return cross_entropy + self.penalty * ((1.0 - coverage) ** 2).sum(dim=1).mean()
