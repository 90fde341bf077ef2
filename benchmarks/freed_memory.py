"""What keeping freed memory (``performance.retain_freed_memory``) is worth: one training step at the papers'
shapes, as ``benchmarks/paper_shapes.py`` builds it, under glibc's default allocator and with freed memory
retained. Once changed, the default cannot be restored inside a process, so each measurement is a child
process (one thread, warm-up steps until the allocator's state settles, then timed steps), and the two kinds alternate in pairs, the first of a
pair alternating too. Per method: seconds and page faults per step under each, and the median of the paired
speed-ups.
Usage: python -m benchmarks.freed_memory [pairs [fusion ...]]; prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys

import torch
from tabulate import tabulate

CHILD = "--child"
WARM_UP_STEPS = 2  # the first steps fault in the heap under either allocator setting
STEPS = 3
CHILD_SECONDS = 900


def child(fusion: str, retain: bool) -> dict:
    """Median seconds and page faults of ``STEPS`` steps after the warm-up, in this process."""
    from benchmarks.paper_shapes import MethodStep
    from fusionlab.run.freed_memory import retain_freed_memory

    torch.set_num_threads(1)
    torch.manual_seed(0)
    method = MethodStep(fusion)
    if retain:  # where training sets it: after the model is built (fusionlab.run.performance)
        retain_freed_memory()
    for _ in range(WARM_UP_STEPS):
        method.step()
    seconds, faults = [], []
    for _ in range(STEPS):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        seconds.append(sum(method.step().values()))
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return {"seconds": statistics.median(seconds), "faults": statistics.median(faults)}


def measured(fusion: str, retain: bool) -> dict:
    output = subprocess.run([sys.executable, "-m", "benchmarks.freed_memory", CHILD, fusion, str(int(retain))],
                            check=True, capture_output=True, text=True, timeout=CHILD_SECONDS).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(pairs: int = 2, fusions: tuple[str, ...] = ("hvpnet", "muse")) -> dict:
    methods = []
    for fusion in fusions:
        default, retained = [], []
        for pair in range(pairs):
            for retain in (False, True)[:: -1 if pair % 2 else 1]:
                (retained if retain else default).append(measured(fusion, retain))
        methods.append({"fusion": fusion, "default": default, "retained": retained,
                        "speedup": statistics.median(d["seconds"] / r["seconds"] for d, r in zip(default, retained))})
    return {"threads": 1, "warm_up_steps": WARM_UP_STEPS, "steps": STEPS, "pairs": pairs, "methods": methods}


def markdown(result: dict) -> list[str]:
    """The table docs/benchmarks.md shows: medians over the pairs."""
    def median(runs: list[dict], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    rows = [[m["fusion"], f"{median(m['default'], 'seconds'):.2f}", f"{median(m['retained'], 'seconds'):.2f}",
             f"{median(m['default'], 'faults'):.0f} / {median(m['retained'], 'faults'):.0f}", f"{m['speedup']:.2f}x"]
            for m in result["methods"]]
    return [tabulate(rows, ["fusion", "s / step, glibc default", "s / step, freed memory retained",
                            "page faults per step (default / retained)", "speed-up (median of paired runs)"],
                     tablefmt="github", disable_numparse=True), ""]


if __name__ == "__main__":
    if sys.argv[1:2] == [CHILD]:
        print(json.dumps(child(sys.argv[2], sys.argv[3] == "1")))
    else:
        print(json.dumps(main(*(int(a) for a in sys.argv[1:2]), *([tuple(sys.argv[2:])] if sys.argv[2:] else []))))
