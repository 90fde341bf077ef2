"""What a task tells the shared datamodule and LightningModule.

A task owns its label vocabulary, the per-example targets the datamodule collates, the
head (loss and decoding) the LightningModule puts on top of the fused states, its
torchmetrics Metric and the readable form of a prediction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn
from torchmetrics import Metric

from fusionlab.data.encoding import Encoded
from fusionlab.data.example import Example

UNSEEN = -100  # the class target of a label unseen in training: cross-entropy's default ignore_index


class TaskHead(nn.Module, ABC):
    @abstractmethod
    def loss(self, states: torch.Tensor, batch: dict) -> torch.Tensor: ...

    @abstractmethod
    def decode(self, states: torch.Tensor, batch: dict) -> list: ...

    @abstractmethod
    def evidence(self, states: torch.Tensor, batch: dict) -> dict[str, torch.Tensor]:
        """The head's predicted distributions, one [B, n, k] tensor per output (``Task.outputs``),
        at every token position: a word's prediction sits at its first sub-token (zeros elsewhere);
        a sentence-level prediction is repeated at every position. PMEI's early predictions y'."""


class Task(ABC):
    name: str
    monitor: str = "f1"  # the validation metric that picks the best checkpoint
    special_tokens: tuple[str, ...] = ()
    vocabulary_keys: tuple[str, ...] = ()  # the attributes that hold the label vocabulary

    def __init__(self, dropout: float = 0.1):
        self.dropout = dropout

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
    def head(self, hidden: int) -> TaskHead: ...

    @abstractmethod
    def outputs(self) -> dict[str, int]:
        """What the head predicts: output name -> number of classes (after ``fit``)."""

    @abstractmethod
    def sentence_labels(self, batch: dict) -> torch.Tensor:
        """What each whole sentence is labelled with, for probes that read one vector per sentence
        (MASE's E-step): class ids [B], or a multi-hot [B, k] where a sentence holds several labels."""

    @abstractmethod
    def metric(self) -> Metric: ...

    @abstractmethod
    def score(self, metric: Metric, predictions: list, batch: dict) -> None:
        """Update ``metric`` with predictions against the full, untruncated gold."""

    @abstractmethod
    def readable(self, example: Example, prediction) -> dict:
        """A prediction dump row: words, gold and predicted."""

    @abstractmethod
    def unlabeled(self, example: Example) -> Example:
        """A new input with placeholder gold (what ``targets`` reads; never scored)."""

    @abstractmethod
    def prediction(self, example: Example, prediction) -> dict:
        """What the model says about a new input: entities, relations or a label."""


def span_record(words: list[str], span) -> dict:
    return {"start": span.start, "end": span.end, "text": " ".join(words[span.start:span.end]),
            **({"type": span.label} if span.label else {})}


def multi_hot(label_sets: list[set[str]], vocabulary: list[str]) -> torch.Tensor:
    """[B, len(vocabulary)] with a 1 for every label a sample holds."""
    return torch.tensor([[float(label in labels) for label in vocabulary] for labels in label_sets])


def word_states(states: torch.Tensor, word_index: torch.Tensor) -> torch.Tensor:
    """Gather the state of each word's first sub-token: [B, n, D] -> [B, W, D]."""
    return states.gather(1, word_index.unsqueeze(-1).expand(-1, -1, states.size(-1)))


def spread_words(values: torch.Tensor, batch: dict, length: int) -> torch.Tensor:
    """Place word-level values [B, W, k] at their words' first sub-tokens: [B, length, k], zeros elsewhere
    (padded words, which point at position 0, are zeroed first)."""
    values = values * batch["word_mask"].unsqueeze(-1).to(values.dtype)
    spread = values.new_zeros(values.size(0), length, values.size(-1))
    return spread.scatter_add(1, batch["word_index"].unsqueeze(-1).expand_as(values), values)


def repeat_sentence(values: torch.Tensor, length: int) -> torch.Tensor:
    """A sentence-level prediction [B, k] at every token position: [B, length, k]."""
    return values.unsqueeze(1).expand(-1, length, -1)
