"""Image-feature loading samples/s for concat: pixels + frozen encoder forward vs the feature cache.

Usage: python benchmarks/data_loading.py [repeats]; prints one JSON line.
"""

from __future__ import annotations

import json
import sys

import torch

from benchmarks.common import Timer, build, summary


def rate(datamodule, vision) -> float:
    with Timer() as timer, torch.no_grad():
        samples = 0
        for batch in datamodule.train_dataloader():
            if not isinstance(batch["image"], dict):
                vision(batch["image"])  # what the cache saves: the frozen encoder's forward
            samples += len(batch["examples"])
    return samples / timer.seconds


def main(repeats: int = 3) -> dict:
    results = {}
    for label, cache in (("pixels_and_encoder", "false"), ("feature_cache", "true")):
        _, datamodule, model = build(["fusion=concat", f"data.feature_cache={cache}"])
        results[label] = summary([rate(datamodule, model.method.vision) for _ in range(repeats)])
        results[label]["image_mode"] = datamodule.image_mode
    return results


if __name__ == "__main__":
    print(json.dumps(main(*(int(a) for a in sys.argv[1:]))))
