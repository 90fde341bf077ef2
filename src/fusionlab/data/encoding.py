"""Tokenise a word sequence with the encoder's (fast) tokenizer and align words to sub-tokens."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase


@dataclass
class Encoded:
    input_ids: list[int]
    word_index: list[int]  # position of each kept word's first sub-token
    truncated: bool

    @property
    def kept_words(self) -> int:
        return len(self.word_index)


def encode_words(words: list[str], tokenizer: PreTrainedTokenizerBase, max_length: int) -> Encoded:
    encoding = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
    first: dict[int, int] = {}
    for position, word in enumerate(encoding.word_ids()):
        if word is not None and word not in first:
            first[word] = position
    # A word that tokenises to nothing (stray control characters) keeps its neighbour's position.
    kept = max(first, default=-1) + 1
    word_index, last = [], 0
    for word in range(kept):
        last = first.get(word, last)
        word_index.append(last)
    return Encoded(list(encoding["input_ids"]), word_index, truncated=kept < len(words))


def pad(rows: list[list[int]], value: int = 0) -> torch.Tensor:
    width = max((len(r) for r in rows), default=0) or 1
    return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)
