"""Forward + backward of one MuSE exchanging layer vs the same shared layer without exchange (CPU).

Sizes from the MuSE issue: d = 768, 12 heads, FFN 3072, B = 32, 65 text + 65 image tokens (cls
included), theta = 0.1, training mode. The target is at most 5 % added time.
Usage: python -m benchmarks.exchange_overhead [repeats] [steps]; prints one JSON line.
"""

from __future__ import annotations

import json
import sys

import torch

from benchmarks.common import Timer, summary
from fusionlab.fusion.muse.cross_transformer import SharedLayer, exchange


def main(repeats: int = 5, steps: int = 3) -> dict:
    torch.manual_seed(0)
    layer = SharedLayer(768, 12, 3072, dropout=0.1).train()
    text, image = torch.randn(32, 65, 768, requires_grad=True), torch.randn(32, 65, 768, requires_grad=True)
    text_mask = torch.ones(32, 65, dtype=torch.bool)
    text_mask[::2, 40:] = False  # half the sentences padded
    image_mask = torch.ones(32, 65, dtype=torch.bool)

    def plain():
        return layer(text, text_mask).sum() + layer(image, image_mask).sum()

    def exchanging():
        t, t_cls = layer.attend(text, text_mask, cls_attention=True)
        i, i_cls = layer.attend(image, image_mask, cls_attention=True)
        t, i = exchange(t, i, text_mask, image_mask, t_cls, i_cls, theta=0.1)
        return layer.feed_forward(t).sum() + layer.feed_forward(i).sum()

    def time_per_step(forward) -> list[float]:
        forward().backward()  # warm-up
        times = []
        for _ in range(repeats):
            with Timer() as timer:
                for _ in range(steps):
                    layer.zero_grad(set_to_none=True)
                    forward().backward()
            times.append(1000 * timer.seconds / steps)
        return times

    results = {}
    for _ in range(2):  # interleave the two, so that drift in the machine's speed hits both
        for name, forward in (("plain_ms", plain), ("exchange_ms", exchanging)):
            results.setdefault(name, []).extend(time_per_step(forward))
    plain_ms, exchange_ms = summary(results["plain_ms"]), summary(results["exchange_ms"])
    return {"plain_ms": plain_ms, "exchange_ms": exchange_ms,
            "overhead_percent": 100 * (exchange_ms["median"] / plain_ms["median"] - 1),
            "threads": torch.get_num_threads()}


if __name__ == "__main__":
    print(json.dumps(main(*(int(a) for a in sys.argv[1:]))))
