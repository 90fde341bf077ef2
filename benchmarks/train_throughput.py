"""Training samples/s, step time and peak memory of one fusion (one process per fusion).

CPU (default): the default sizes (minilm + effnet_lite0 frozen, synthetic mner, batch 32), fp32, batches
loaded as training loads them. ``--gpu``: the papers' shapes with random weights built offline
(``bert_base_random`` + ``resnet50_random``, fine-tuned, 224 x 224 images, batch 32, 80 tokens), bf16
autocast as Lightning's ``bf16-mixed``, TF32 matmuls, a few batches held on the GPU (the model's speed,
not the image decoding); ``--compile`` adds ``torch.compile`` (inductor) of the model's submodules.
Usage: python -m benchmarks.train_throughput <fusion> [repeats] [steps] [--gpu] [--compile]; prints one JSON line.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sys
from collections.abc import Callable

import torch
from lightning.fabric.utilities.apply_func import move_data_to_device
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import Timer, build, summary, train_step
from fusionlab.run.performance import apply_performance
from fusionlab.run.results import peak_memory, reset_peak_memory

GPU_OVERRIDES = ["encoder=paper", "encoder.text.name=bert_base_random", "encoder.vision.name=resnet50_random",
                 "data.image_size=224", "trainer=gpu"]
GPU_BATCHES = 8  # distinct batches held on the GPU and cycled


def measure(overrides: list[str], repeats: int = 3, steps: int = 10, device: str = "cpu", bf16: bool = False,
            compile: bool = False, compile_backend: str | Callable = "inductor", held_batches: int = 0,
            count_flops: bool = False) -> dict:
    """Train the configured model for ``repeats`` x ``steps`` optimiser steps after a warm-up; the peak
    memory is that of the timed steps. ``held_batches`` > 0 cycles that many batches kept on ``device``
    (the warm-up runs each once); 0 reads them as training does, restarting the loader when it runs out.
    ``count_flops``: the first warm-up step runs under ``FlopCounterMode`` (``flops_per_step``; not with compile)."""
    torch.manual_seed(0)
    cfg, datamodule, model = build(overrides)
    model.to(device).train()
    apply_performance(model, compile=compile, compile_backend=compile_backend,
                      matmul_precision=cfg.performance.matmul_precision)
    optimizer = model.optimizer("bf16-mixed" if bf16 else "32-true")
    if held_batches:
        held = [move_data_to_device(b, device) for b in itertools.islice(datamodule.train_dataloader(), held_batches)]
        batches, warmup_steps = itertools.cycle(held), len(held)
    else:
        batches, warmup_steps = itertools.chain.from_iterable(datamodule.train_dataloader() for _ in itertools.count()), 1

    def step() -> int:
        batch = next(batches)
        train_step(model, optimizer, batch, torch.device(device).type, bf16)
        return len(batch["examples"])

    def synchronize():
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()

    counter = FlopCounterMode(display=False) if count_flops else contextlib.nullcontext()
    with Timer() as warmup:
        with counter:  # the first step's FLOPs, forward and backward
            step()
        for _ in range(warmup_steps - 1):
            step()
        synchronize()
    reset_peak_memory()
    rates = []
    for _ in range(repeats):
        with Timer() as timer:
            samples = sum(step() for _ in range(steps))
            synchronize()
        rates.append(samples / timer.seconds)
    memory, source = peak_memory()
    return {"fusion": cfg.fusion.name, "device": str(device), "precision": "bf16-mixed" if bf16 else "32-true",
            "compile": compile, "samples_per_second": summary(rates), "warmup_seconds": warmup.seconds,
            "peak_memory_mb": memory, "memory_source": source, "batch_size": datamodule.batch_size,
            "steps_per_repeat": steps, "flops_per_step": counter.get_total_flops() if count_flops else None}


def main(fusion: str, repeats: int = 3, steps: int = 10, gpu: bool = False, compile: bool = False) -> dict:
    if not gpu:
        return measure([f"fusion={fusion}"], repeats, steps)
    return measure([f"fusion={fusion}", *GPU_OVERRIDES], repeats, steps, "cuda", bf16=True, compile=compile,
                   held_batches=GPU_BATCHES)


if __name__ == "__main__":
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    print(json.dumps(main(args[0], *(int(a) for a in args[1:]), gpu="--gpu" in flags, compile="--compile" in flags)))
