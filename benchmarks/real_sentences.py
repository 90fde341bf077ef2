"""HVPNeT and MuSE at their papers' shapes on real Twitter-2015 sentences: one training step with the speed
work of issue 31, one as before it and one with that work under bf16-mixed, on the same batches (CPU, one
thread, batch 8, random weights; the order rotates from batch to batch).

``benchmarks/paper_shapes.py`` lengthens every sentence to ``max_length``, so its batches have no padding;
real batches of 8 are padded to their longest sentence, and packed text tokens (``encoder.text.pack_tokens``;
MuSE's CrossTransformer packs its text stream with the encoder) skip that padding; the encoder's last layer
then computes only the tokens the head reads (``encoders/read_tokens.py``). Each method is built on the real
training split (its label set and MuSE's caption vocabulary as training builds them), from the flat layout of
``$FUSIONLAB_DATA`` or ``../shared/data``; the images are replaced by random pixels (or features), all present, so
the vision side costs what real images cost. Without the data the result says so and nothing is measured.
Usage: python -m benchmarks.real_sentences [batches [fusion ...]]; prints one JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path

import torch
from tabulate import tabulate

from benchmarks.paper_shapes import ARMS, MethodStep, arm_order
from fusionlab.run.freed_memory import retain_freed_memory

DATASET = "twitter2015"
FUSIONS = ("hvpnet", "muse")


def data_root() -> Path | None:
    """The folder holding ``twitter2015/{train,valid,test}.txt``, if any."""
    for root in (os.environ.get("FUSIONLAB_DATA"), Path(__file__).resolve().parents[2] / "shared" / "data"):
        if root and (Path(root) / DATASET / "train.txt").exists():
            return Path(root)
    return None


def with_present_images(batch: dict, generator: torch.Generator) -> dict:
    """The batch with random values in its images (an entry ``<name>`` beside its mask ``<name>_mask``: pixels, or
    cached features as a dict of tensors) and every image present; the text and its masks stay as they are."""
    def random(value):
        if isinstance(value, dict):
            return {key: random(tensor) for key, tensor in value.items()}
        return torch.randn(value.shape, generator=generator)

    names = [name for name in batch if f"{name}_mask" in batch]
    return {**batch, **{name: random(batch[name]) for name in names},
            **{f"{name}_mask": torch.ones_like(batch[f"{name}_mask"]) for name in names}}


def real_batches(method: MethodStep, count: int) -> list[dict]:
    generator = torch.Generator().manual_seed(0)
    batches = []
    for batch in method.datamodule.train_dataloader():
        batches.append(with_present_images(batch, generator))
        if len(batches) == count:
            return batches
    return batches


def real_data(root: Path) -> list[str]:
    """The overrides that build a method on the real training split under ``root``."""
    return [f"data_root={root}", "dataset.layout=flat", "data.num_workers=0"]


def measure(fusion: str, root: Path, count: int) -> dict:
    method = MethodStep(fusion, real_data(root))
    batches = real_batches(method, count + 1)
    method.warm_up(batches[0])
    seconds = {arm: [] for arm in ARMS}
    for index, batch in enumerate(batches[1:]):
        for arm in arm_order(index):
            seconds[arm].append(method.seconds(arm, batch))
        method.use("fp32")
    masks = [b["attention_mask"] for b in batches[1:]]
    after, before, bf16 = (seconds[arm] for arm in ARMS)
    return {"fusion": fusion, "config": f"experiment={fusion}_{DATASET}", "batches": len(after),
            "real_tokens": sum(int(m.sum()) for m in masks), "padded_tokens": sum(m.numel() for m in masks),
            "step_seconds": after, "before_seconds": before, "bf16_seconds": bf16,
            "speedup": statistics.median(b / a for a, b in zip(after, before)),
            "bf16_speedup": statistics.median(a / b for a, b in zip(after, bf16))}


def main(count: int = 2 * len(ARMS), fusions: tuple[str, ...] = FUSIONS) -> dict:
    root = data_root()
    if root is None:
        return {"skipped": f"no {DATASET}/train.txt under $FUSIONLAB_DATA or ../shared/data"}
    torch.set_num_threads(1)
    torch.manual_seed(0)
    retain_freed_memory()
    return {"dataset": DATASET, "batch_size": 8, "threads": 1, "methods": [measure(f, root, count) for f in fusions]}


def markdown(result: dict) -> list[str]:
    if "skipped" in result:
        return [f"Not measured: {result['skipped']}.", ""]
    rows = [[m["fusion"], m["config"], m["batches"], f"{m['real_tokens'] / m['padded_tokens']:.0%}",
             f"{statistics.median(m['step_seconds']):.2f}", f"{statistics.median(m['before_seconds']):.2f}",
             f"{m['speedup']:.2f}x", f"{statistics.median(m['bf16_seconds']):.2f}", f"{m['bf16_speedup']:.2f}x"]
            for m in result["methods"]]
    return [tabulate(rows, ["fusion", "config", "batches", "real tokens of the padded batch",
                            "s / step (median)", "s / step before (median)", "speed-up (median of pairs)",
                            "s / step bf16-mixed (median)", "bf16-mixed speed-up over fp32"],
                     tablefmt="github"), ""]


if __name__ == "__main__":
    print(json.dumps(main(*(int(a) for a in sys.argv[1:2]), *([tuple(sys.argv[2:])] if sys.argv[2:] else []))))
