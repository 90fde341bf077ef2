"""The training order: shuffled per epoch from (seed, epoch) alone, so a resumed run can replay it.

Lightning calls ``set_epoch`` before every epoch. A run resumed from a mid-epoch checkpoint
restarts the epoch's loader and trains on as many batches as the epoch had left; the
datamodule then sets ``start`` so that those are the batches the interrupted run had not
reached yet, in the same order.
"""

from __future__ import annotations

import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler[int]):
    def __init__(self, size: int, seed: int):
        self.size, self.seed, self.epoch, self.start = size, seed, 0, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed * 100_003 + self.epoch))
        start, self.start = self.start, 0  # a resume offset applies to one pass only
        return iter(order[start:].tolist())

    def __len__(self) -> int:
        return self.size
