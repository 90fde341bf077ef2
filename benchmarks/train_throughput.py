"""Training samples/s and peak memory of one fusion at the default sizes (one process per fusion).

Usage: python benchmarks/train_throughput.py <fusion> [repeats] [steps]; prints one JSON line.
"""

from __future__ import annotations

import json
import sys

import torch

from benchmarks.common import Timer, build, summary
from fusionlab.results import peak_memory


def main(fusion: str, repeats: int = 3, steps: int = 10) -> dict:
    torch.manual_seed(0)
    _, datamodule, model = build([f"fusion={fusion}"])
    optimizer = torch.optim.AdamW(model.parameter_groups())
    batches = iter(datamodule.train_dataloader())
    model.train()

    def step():
        nonlocal batches
        try:
            batch = next(batches)
        except StopIteration:
            batches = iter(datamodule.train_dataloader())
            batch = next(batches)
        optimizer.zero_grad()
        model.training_step(batch, 0).backward()
        optimizer.step()
        return len(batch["examples"])

    step()  # warm-up
    rates = []
    for _ in range(repeats):
        with Timer() as timer:
            samples = sum(step() for _ in range(steps))
        rates.append(samples / timer.seconds)
    memory, source = peak_memory()
    return {"fusion": fusion, "samples_per_second": summary(rates), "peak_memory_mb": memory,
            "memory_source": source, "batch_size": datamodule.batch_size, "steps_per_repeat": steps}


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(main(args[0], *(int(a) for a in args[1:]))))
