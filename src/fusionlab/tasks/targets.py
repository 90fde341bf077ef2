"""A task's data side: its label vocabulary, and the targets the shared datamodule encodes and collates."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol, runtime_checkable

import torch

from fusionlab.data.encoding import Encoded
from fusionlab.data.example import Example

UNSEEN = -100  # the class target of a label unseen in training: cross-entropy's default ignore_index


class Targets(ABC):
    special_tokens: tuple[str, ...] = ()
    vocabulary_keys: tuple[str, ...] = ()  # the attributes that hold the label vocabulary

    def fit(self, examples: list[Example]) -> None:
        """Fix the label vocabulary from the training split's examples (labels first seen in val or
        test are never added: they are reported and scored as misses)."""
        self.load_vocabulary({key: sorted(values) for key, values in self.labels_of(examples).items()})

    @abstractmethod
    def labels_of(self, examples: list[Example]) -> dict[str, set]:
        """The labels ``examples`` hold, per vocabulary key."""

    def vocabulary(self) -> dict[str, list]:
        """The label vocabulary, as kept in checkpoints and results.json (a run describes itself)."""
        return {key: list(getattr(self, key)) for key in self.vocabulary_keys}

    def load_vocabulary(self, vocabulary: dict[str, list]) -> None:
        for key in self.vocabulary_keys:
            setattr(self, key, list(vocabulary[key]))

    @property
    def fitted(self) -> bool:
        return all(hasattr(self, key) for key in self.vocabulary_keys)

    def unseen_labels(self, examples: list[Example]) -> dict[str, int]:
        """Labels of ``examples`` outside the vocabulary, with how many examples hold each."""
        known = {key: set(values) for key, values in self.vocabulary().items()}
        counts: dict[str, int] = {}
        for example in examples:
            for key, labels in self.labels_of([example]).items():
                for label in labels - known[key]:
                    counts[str(label)] = counts.get(str(label), 0) + 1
        return counts

    def words(self, example: Example) -> list[str]:
        return example.words

    def target_cut(self, example: Example, encoded: Encoded) -> bool:
        """Whether truncation at ``max_length`` cut away what the head reads (MRE's entity markers)."""
        return False

    @abstractmethod
    def targets(self, example: Example, encoded: Encoded) -> dict:
        """The example's training targets, cut to the words the tokenizer kept."""

    @abstractmethod
    def collate(self, items: list[dict], width: int) -> dict:
        """Batch the targets; ``width`` is the padded number of words."""

    @abstractmethod
    def unlabeled(self, example: Example) -> Example:
        """A new input with placeholder gold (what ``targets`` reads; never scored)."""


@runtime_checkable
class SentenceLabels(Protocol):
    """What a task's targets may also give (MASE's E-step needs it): a label for each whole sentence."""

    def sentence_labels(self, batch: dict) -> torch.Tensor:
        """For probes that read one vector per sentence: class ids [B], or a multi-hot [B, k] where a
        sentence holds several labels."""


def multi_hot(label_sets: list[set[str]], vocabulary: list[str]) -> torch.Tensor:
    """[B, len(vocabulary)] with a 1 for every label a sample holds."""
    return torch.tensor([[float(label in labels) for label in vocabulary] for labels in label_sets])
