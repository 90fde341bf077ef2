"""MRE's data side: the words with entity markers (the tokenizer's special tokens), the marker positions
the head reads, and the relation."""

from __future__ import annotations

from dataclasses import replace

import torch

from fusionlab.data.encoding import Encoded
from fusionlab.data.example import Example, Relation
from fusionlab.tasks.targets import UNSEEN, Targets

MARKERS = ("<s>", "</s>", "<o>", "</o>")
NO_RELATION = "None"


def mark(example: Example) -> tuple[list[str], int, int]:
    """The words with markers inserted, and the word positions of ``<s>`` and ``<o>``. At one position
    the closing markers come first, then ``<s>``, then ``<o>``: head and tail starting (or ending) at the
    same word keep all four markers (HVPNeT's reference checks head start, head end, tail start, tail end
    in turn; it also drops a closing marker after the sentence's last word, which is kept here)."""
    head, tail = example.relations[0].head, example.relations[0].tail
    words, head_at, tail_at = [], -1, -1
    for position in range(len(example.words) + 1):
        words += [marker for marker, end in (("</s>", head.end), ("</o>", tail.end)) if position == end]
        if position == head.start:
            head_at = len(words)
            words.append("<s>")
        if position == tail.start:
            tail_at = len(words)
            words.append("<o>")
        if position < len(example.words):
            words.append(example.words[position])
    return words, head_at, tail_at


class MarkedPairTargets(Targets):
    special_tokens = MARKERS
    vocabulary_keys = ("relations",)

    def labels_of(self, examples):
        return {"relations": {e.relations[0].label for e in examples} | {NO_RELATION}}

    def load_vocabulary(self, vocabulary):
        super().load_vocabulary(vocabulary)
        self.relations = [NO_RELATION] + sorted(set(self.relations) - {NO_RELATION})

    def words(self, example):
        return mark(example)[0]

    def target_cut(self, example, encoded: Encoded):
        _, head_at, tail_at = mark(example)
        return max(head_at, tail_at) >= encoded.kept_words

    def targets(self, example, encoded: Encoded):
        """A marker cut off by truncation is read at [CLS] (counted and warned by the datamodule); a
        relation unseen in training gets ``UNSEEN``: no loss, and scored as a relation never predicted."""
        _, head_at, tail_at = mark(example)
        position = lambda at: encoded.word_index[at] if at < encoded.kept_words else 0  # noqa: E731
        label = example.relations[0].label
        return {"head_pos": position(head_at), "tail_pos": position(tail_at),
                "relation": self.relations.index(label) if label in self.relations else UNSEEN}

    def collate(self, items, width):
        return {key: torch.tensor([i[key] for i in items]) for key in ("head_pos", "tail_pos", "relation")}

    def sentence_labels(self, batch):
        return batch["relation"]

    def unlabeled(self, example):
        if len(example.entities) != 2:
            raise ValueError("mre classifies the relation between two given entities: pass head and tail spans")
        head, tail = example.entities
        return replace(example, relations=[Relation(head, tail, NO_RELATION)])
