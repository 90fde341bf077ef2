"""MuSE's TextDecoder (Eq. 6): an attention LSTM captioner (Show, Attend and Tell; Xu et al., 2015).

Over the annotation vectors a_1..a_P (here I_n, the regularised image tokens) the LSTM starts
from h_0, c_0 = MLPs of the mean annotation; at step t soft attention
alpha_t = softmax(w^T tanh(W_a a_i + W_h h_{t-1})), a gating scalar beta_t = sigmoid(f_beta(h_{t-1}))
scales the context z_t = beta_t sum_i alpha_ti a_i, and the LSTM reads [E y_{t-1}; z_t].
Teacher forcing on the input sentence; the loss L_it is the token cross-entropy over real
(non-padding) targets plus lambda mean_{b,i} (1 - sum_t alpha_ti)^2, the doubly stochastic
attention penalty as the reference takes it (a mean over annotations and sentences; Xu et al.'s
Eq. 14 sums over the P annotations, which ``penalty`` = P reproduces).

The words are either the text encoder's WordPieces or, as the reference (``WordVocabulary``), the
lower-cased training words seen at least twice. A word vocabulary lives in the ``words`` buffer, so
it travels in checkpoints: loading a state dict resizes the embedding and output layers to it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import torch
from torch import nn
from torch.nn import functional as F

from fusionlab.fusion.muse.step_products import StepProducts

SPECIALS = ("<pad>", "<sos>", "<eos>", "<unk>")
PAD, SOS, EOS, UNK = range(len(SPECIALS))


class WordVocabulary:
    """Caption words: the four specials, then every lower-cased word seen ``min_count`` times (first-seen order)."""

    def __init__(self, words: Iterable[str]):
        self.words = list(words)
        self.index = {word: i for i, word in enumerate(self.words)}

    @classmethod
    def fit(cls, sentences: Iterable[list[str]], min_count: int = 2) -> WordVocabulary:
        counts = Counter(word.lower() for sentence in sentences for word in sentence)
        return cls([*SPECIALS, *(w for w, n in counts.items() if n >= min_count and w not in SPECIALS)])

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, sentences: list[list[str]], length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """<sos> words <eos>, cut to ``length`` - 2 words and padded: ids and mask [B, longest]."""
        rows = [[SOS, *(self.index.get(w.lower(), UNK) for w in sentence[:length - 2]), EOS] for sentence in sentences]
        width = max(map(len, rows))
        ids = torch.tensor([row + [PAD] * (width - len(row)) for row in rows])
        return ids, ids != PAD

    def to_tensor(self) -> torch.Tensor:
        return torch.tensor(list("\n".join(self.words).encode("utf-8")), dtype=torch.uint8)

    @classmethod
    def from_tensor(cls, data: torch.Tensor) -> WordVocabulary:
        return cls(bytes(data.tolist()).decode("utf-8").split("\n"))


def lstm_cell(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``nn.LSTMCell`` from its summed input and hidden products [B, 4H] (PyTorch's gate order: i, f, g, o)."""
    i, f, g, o = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class AttentionCaptioner(nn.Module):
    def __init__(self, feature_dim: int, vocab_size: int, embed_dim: int, hidden_dim: int, attention_dim: int,
                 dropout: float, penalty: float, words: bool = False):
        """``words``: a word vocabulary (set by ``fit_words`` or a loaded state dict), ``vocab_size`` unused."""
        super().__init__()
        self.embed = nn.Embedding(len(SPECIALS) if words else vocab_size, embed_dim)
        self.init_h, self.init_c = nn.Linear(feature_dim, hidden_dim), nn.Linear(feature_dim, hidden_dim)
        self.attend_features = nn.Linear(feature_dim, attention_dim)
        self.attend_hidden = nn.Linear(hidden_dim, attention_dim)
        self.attention_score = nn.Linear(attention_dim, 1)
        self.gate = nn.Linear(hidden_dim, feature_dim)  # f_beta
        self.cell = nn.LSTMCell(embed_dim + feature_dim, hidden_dim)
        self.dropout = nn.Dropout(dropout)
        self.vocabulary = nn.Linear(hidden_dim, self.embed.num_embeddings)
        self.penalty = penalty
        self.word_vocabulary: WordVocabulary | None = None
        if words:
            self.register_buffer("words", torch.zeros(0, dtype=torch.uint8))
            self.register_load_state_dict_pre_hook(self._load_words)

    # --- the word vocabulary ---------------------------------------------------------------
    def fit_words(self, sentences: Iterable[list[str]], min_count: int = 2) -> None:
        self.use_words(WordVocabulary.fit(sentences, min_count))

    def use_words(self, vocabulary: WordVocabulary) -> None:
        """Take ``vocabulary``; the embedding and output layers are rebuilt when its size differs."""
        if len(vocabulary) != self.embed.num_embeddings:
            weight = self.embed.weight
            self.embed = nn.Embedding(len(vocabulary), self.embed.embedding_dim).to(weight)
            self.vocabulary = nn.Linear(self.vocabulary.in_features, len(vocabulary)).to(weight)
        self.word_vocabulary = vocabulary
        self.words = vocabulary.to_tensor().to(self.words.device)

    def _load_words(self, module, state_dict, prefix, *args) -> None:
        saved = state_dict.get(prefix + "words")
        if saved is not None and not torch.equal(saved.cpu(), self.words.cpu()):
            self.use_words(WordVocabulary.from_tensor(saved.cpu()))

    def captions(self, sentences: list[list[str]], length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Word ids and mask of ``sentences`` under the fitted word vocabulary, on this module's device."""
        if self.word_vocabulary is None:
            raise RuntimeError("the captioner's word vocabulary is not fitted: MuSE.fit_caption_vocabulary(training "
                               "sentences) does it (MuSE.prepare, which train.assemble calls with the training split)")
        ids, mask = self.word_vocabulary.encode(sentences, length)
        return ids.to(self.words.device), mask.to(self.words.device)

    # --- Eq. 6 -----------------------------------------------------------------------------
    @torch.compiler.disable  # StepProducts keeps records in Python between the steps' backward passes: eager only
    def forward(self, features: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced logits [B, n-1, V] for tokens[:, 1:] and attention weights [B, n-1, P].

        The LSTM reads [E y_{t-1}; z_t]: the words' share of its input product is taken for every step at once.
        What each step multiplies by a weight (h_{t-1} by the attention's W_h, f_beta and the LSTM's W_hh, as one
        product; z_t by the LSTM's W_ih) goes through ``StepProducts``, which forms those weights' gradients once
        over all steps."""
        mean = features.mean(dim=1)
        h, c = torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean))
        keys = self.attend_features(features)
        inputs = self.embed(tokens[:, :-1])
        cell, words = self.cell, self.embed.embedding_dim
        word_gates = F.linear(inputs, cell.weight_ih[:, :words], cell.bias_ih + cell.bias_hh)
        from_hidden = StepProducts(torch.cat([self.attend_hidden.weight, self.gate.weight, cell.weight_hh]))
        from_context = StepProducts(cell.weight_ih[:, words:])
        sizes = (self.attend_hidden.out_features, self.gate.out_features, 4 * cell.hidden_size)
        states, weights = [], []
        for step in range(inputs.size(1)):  # an RNN: the loop over time steps is the model
            attend_hidden, gate, recurrent = from_hidden(h).split(sizes, dim=-1)
            scores = self.attention_score(torch.tanh(keys + (attend_hidden + self.attend_hidden.bias).unsqueeze(1)))
            alpha = scores.squeeze(-1).softmax(-1)
            context = torch.sigmoid(gate + self.gate.bias) * (alpha.unsqueeze(1) @ features).squeeze(1)
            h, c = lstm_cell(word_gates[:, step] + from_context(context) + recurrent, c)
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
        return cross_entropy + self.penalty * ((1.0 - coverage) ** 2).mean()
