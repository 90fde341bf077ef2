"""Forward + backward of one MuSE exchanging layer vs the same shared layer without exchange (CPU).

Sizes from the MuSE issue: d = 768, 12 heads, FFN 3072, B = 32, 65 text + 65 image tokens (cls
included), theta = 0.1, training mode. The target is at most 5 % added time. Also timed: the
exchange step alone (selection, token means, residual add; forward + backward), as a share of the plain layer.
Usage: python -m benchmarks.exchange_overhead [repeats] [steps]; prints one JSON line.
"""

from __future__ import annotations

import json
import statistics
import sys

import torch

from benchmarks.common import Timer, summary
from fusionlab.fusion.muse.cross_transformer import SharedLayer, exchange


def main(repeats: int = 10, steps: int = 3) -> dict:
    torch.manual_seed(0)
    layer = SharedLayer(768, 12, 3072, dropout=0.1).train()
    text, image = torch.randn(32, 65, 768, requires_grad=True), torch.randn(32, 65, 768, requires_grad=True)
    text_mask = torch.ones(32, 65, dtype=torch.bool)
    text_mask[::2, 40:] = False  # half the sentences padded
    image_mask = torch.ones(32, 65, dtype=torch.bool)
    text_cls, image_cls = torch.rand(32, 65), torch.rand(32, 65)

    def plain():
        return layer(text, text_mask).sum() + layer(image, image_mask).sum()

    def exchanging():
        t, t_cls = layer.attend(text, text_mask, cls_attention=True)
        i, i_cls = layer.attend(image, image_mask, cls_attention=True)
        t, i = exchange(t, i, text_mask, image_mask, t_cls, i_cls, theta=0.1)
        return layer.feed_forward(t).sum() + layer.feed_forward(i).sum()

    def exchange_alone():
        t, i = exchange(text, image, text_mask, image_mask, text_cls, image_cls, theta=0.1)
        return t.sum() + i.sum()

    def ms_per_step(forward) -> float:
        with Timer() as timer:
            for _ in range(steps):
                layer.zero_grad(set_to_none=True)
                forward().backward()
        return 1000 * timer.seconds / steps

    for forward in (plain, exchanging, exchange_alone):
        forward().backward()  # warm-up
    # Paired, alternating repeats (the order flips each time), so that drift in the machine's speed
    # hits both paths alike; the overhead is the median of the paired ratios.
    times = {"plain_ms": [], "exchange_ms": [], "exchange_alone_ms": []}
    for repeat in range(repeats):
        order = (("plain_ms", plain), ("exchange_ms", exchanging))
        for name, forward in order if repeat % 2 == 0 else order[::-1]:
            times[name].append(ms_per_step(forward))
        times["exchange_alone_ms"].append(ms_per_step(exchange_alone))
    ratios = [e / p for e, p in zip(times["exchange_ms"], times["plain_ms"])]
    plain_median = statistics.median(times["plain_ms"])
    return {**{name: summary(values) for name, values in times.items()},
            "overhead_percent": 100 * (statistics.median(ratios) - 1),
            "exchange_alone_percent": 100 * statistics.median(times["exchange_alone_ms"]) / plain_median,
            "threads": torch.get_num_threads()}


if __name__ == "__main__":
    print(json.dumps(main(*(int(a) for a in sys.argv[1:]))))
