"""The training order: shuffled per epoch from (seed, epoch) alone, so a resumed run can replay it.

Lightning calls ``set_epoch`` before every epoch. Under DDP each process trains on its own share of
the epoch's order (every ``num_replicas``-th sample from position ``rank``, padded to equal shares as
``DistributedSampler`` does); being a ``DistributedSampler``, Lightning uses it as it is. A run resumed
from a mid-epoch checkpoint restarts the epoch's loader and trains on as many batches as the epoch had
left; the datamodule then sets ``start`` (in samples of this process's share) so that those are the
batches this process had not reached yet, in the same order: no sample is replayed or skipped.

torchdata's ``StatefulDataLoader`` would keep the same position in Lightning's checkpoint; it is not
used because the order must also be a function of (seed, epoch) for runs compared across machines,
which this sampler gives in a few lines without another dependency.
"""

from __future__ import annotations

import torch
from torch.utils.data import DistributedSampler


class EpochSampler(DistributedSampler):
    def __init__(self, size: int, seed: int, num_replicas: int = 1, rank: int = 0):
        super().__init__(range(size), num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)
        self.size, self.start = size, 0

    def __iter__(self):
        order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed * 100_003 + self.epoch))
        order = order.tolist()
        order += order[: self.total_size - self.size]  # equal shares: the first samples again
        share = order[self.rank:self.total_size:self.num_replicas]
        start, self.start = self.start, 0  # a resume offset applies to one pass only
        return iter(share[start:])
