"""The GPU path, proved in one run of a few minutes: every fusion x task trains on CUDA (bf16 autocast, with
and without torch.compile), then the papers' shapes are measured (samples/s, step time, peak memory, MFU)
at the paper batch size and doubled until the GPU runs out of memory or the time budget does.

Part 1, training cells: tiny random encoders (the CUDA code paths, not the papers' sizes), one fixed batch
of the synthetic dataset, a few AdamW steps; each cell must give finite losses and gradients and a loss that
falls on that batch. A cell that fails is recorded with its error's last line and the others go on; pairs
the config refuses (``fusionlab.config.checks.check_combination``) are listed with the reason.
Part 2, the papers' shapes: ``bert_base_random`` + ``resnet50_random``, both trained, 224 x 224 images, bf16
autocast, eager, each method at the batch size its paper configs (conf/experiment) use most, others at 32.
MFU = the model's FLOPs in one training step (``FlopCounterMode``, forward and backward) / step time / the
device's dense bf16 peak (``PEAK_TFLOPS``; unknown devices: blank unless ``--peak-tflops``).
Without CUDA (or with ``--cpu``) the same code runs small: fp32, tiny encoders, one cell per fusion (every
task covered), compile with the "eager" backend, one doubling. Writes gpu_check.json and gpu_check.md
under ``--out``; exits 1 if anything failed. ``--publish <gpu_check.md>`` writes a GPU run's markdown
into the GPU section of docs/benchmarks.md.

Usage: python -m benchmarks.gpu_check [--cpu] [--out DIR] [--budget SECONDS] [--peak-tflops X]
       python -m benchmarks.gpu_check --publish DIR/gpu_check.md
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import lightning
import torch
import transformers
from lightning.fabric.utilities.apply_func import move_data_to_device
from tabulate import tabulate

from benchmarks.common import CONF, build, compose_config, train_step
from benchmarks.train_throughput import GPU_OVERRIDES, measure
from fusionlab.config.checks import check_combination
from fusionlab.run.performance import apply_performance

FUSIONS = ("text_only", "concat", "hvpnet", "muse", "pmei", "mase")
TASKS = ("mner", "mre", "msa", "joint")
DEFAULT_BATCH, DEFAULT_TASK = 32, "mner"  # methods without a paper config
# Dense bf16 tensor-core peaks (TFLOP/s) by a part of the device name, first match wins.
PEAK_TFLOPS = {"H100 PCIe": 756.0, "H200": 989.4, "H100": 989.4, "A100": 312.0}
CELLS_END, SHAPES_END = 0.5, 0.95  # where each part's share of the budget ends
# Memory running out where cuDNN or cuBLAS, not the caching allocator, asked for it
MEMORY_ERRORS = ("out of memory", "ALLOC_FAILED")
GPU_HEADING = "## GPU"


@dataclass(frozen=True)
class Setting:
    """How the check runs on one kind of device."""

    device: str
    bf16: bool
    compile_backend: str
    cell_batch: int
    cell_steps: int
    every_cell: bool  # False: one cell per fusion, every task covered
    compiled_cells: int | None  # compile only the first ones (None: all)
    shape_fusions: tuple[str, ...]
    shape_overrides: tuple[str, ...]
    shape_encoders: str
    shape_repeats: int
    shape_steps: int
    max_doublings: int
    budget: float

    @property
    def precision(self) -> str:
        return "bf16-mixed" if self.bf16 else "32-true"


GPU = Setting("cuda", True, "inductor", cell_batch=16, cell_steps=5, every_cell=True, compiled_cells=None,
              shape_fusions=FUSIONS,
              shape_overrides=(*GPU_OVERRIDES, "encoder.proxy.name=tiny_clip"),  # a MASE proxy, if any: offline
              shape_encoders="bert_base_random + resnet50_random, both trained, 224 x 224 images",
              shape_repeats=3, shape_steps=5, max_doublings=8, budget=420)
CPU = Setting("cpu", False, "eager", cell_batch=8, cell_steps=3, every_cell=False, compiled_cells=2,
              shape_fusions=("text_only", "hvpnet"),
              shape_overrides=("encoder=tiny", "data.image_size=64"),
              shape_encoders="tiny random encoders, 64 x 64 images (a rehearsal of the code path)",
              shape_repeats=1, shape_steps=2, max_doublings=1, budget=600)


class Budget:
    """The run's time from its creation (after the imports): a part ends at ``share`` of ``seconds``; what
    would not finish by then is skipped and listed."""

    def __init__(self, seconds: float):
        self.start, self.seconds, self.skipped = time.monotonic(), seconds, []

    def left(self, share: float) -> float:
        return self.start + share * self.seconds - time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start


def last_line(error: BaseException) -> str:
    lines = [line for line in traceback.format_exception_only(error)[-1].strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def refusal(fusion: str, task: str) -> str | None:
    """Why the config refuses ``fusion`` on ``task``, or None."""
    try:
        check_combination(compose_config([f"fusion={fusion}", f"task={task}"]))
    except ValueError as error:
        return str(error)
    return None


def cover_first(pairs: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], int]:
    """``pairs`` ordered so that the first ones cover every fusion and task (greedily), and how many those are."""
    order, fusions, tasks, rest, cover = [], set(), set(), list(pairs), 0
    while rest:
        pick = max(rest, key=lambda pair: (pair[0] not in fusions) + (pair[1] not in tasks))
        if pick[0] not in fusions or pick[1] not in tasks:
            cover += 1
        order.append(pick)
        rest.remove(pick)
        fusions.add(pick[0])
        tasks.add(pick[1])
    return order, cover


def train_cell(setting: Setting, fusion: str, task: str, compiled: bool, root: str) -> dict:
    """A few steps on one fixed batch; ``problems`` names what went wrong (empty: passed)."""
    if compiled:
        torch._dynamo.reset()  # each cell compiles afresh: no recompile limit carried over from the last one
    torch.manual_seed(0)
    cfg, datamodule, model = build(["encoder=tiny", "logger=none", f"output_dir={root}/run", f"cache_root={root}/cache",
                                    f"dataset.synthetic.train={setting.cell_batch}", "dataset.synthetic.val=4",
                                    "dataset.synthetic.test=4", f"data.batch_size={setting.cell_batch}",
                                    f"trainer={'gpu' if setting.device == 'cuda' else 'cpu'}",
                                    f"fusion={fusion}", f"task={task}"])
    model.to(setting.device).train()
    apply_performance(model, compile=compiled, compile_backend=setting.compile_backend,
                      matmul_precision=cfg.performance.matmul_precision)
    optimizer = model.optimizer(setting.precision)
    batch = move_data_to_device(next(iter(datamodule.train_dataloader())), setting.device)
    losses, finite_grads = [], []
    for _ in range(setting.cell_steps):
        torch.manual_seed(0)  # the same dropout masks each step: one loss function for AdamW to lower
        losses.append(train_step(model, optimizer, batch, torch.device(setting.device).type, setting.bf16).item())
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        finite_grads.append(bool(torch.stack([g.isfinite().all() for g in grads]).all()) if grads else False)
    trainable = sum(p.requires_grad for p in model.parameters())
    problems = []
    if not all(math.isfinite(loss) for loss in losses):
        problems.append(f"non-finite loss: {losses}")
    if not all(finite_grads):
        problems.append(f"non-finite or no gradients at steps {[i for i, ok in enumerate(finite_grads) if not ok]}")
    if not losses[-1] < losses[0]:
        problems.append(f"the loss did not fall on the fixed batch: {losses[0]:.4f} -> {losses[-1]:.4f}")
    return {"losses": losses, "finite_gradients": all(finite_grads), "parameters_with_gradients": len(grads),
            "trainable_parameters": trainable, "problems": problems}


def training_cells(setting: Setting, budget: Budget, root: str) -> list[dict]:
    """Every fusion x task (on CPU: the covering ones), eager then compiled, until part 1's share is spent."""
    cells, pairs = [], []
    for fusion in FUSIONS:
        for task in TASKS:
            reason = refusal(fusion, task)
            if reason:
                cells.append({"fusion": fusion, "task": task, "compile": None, "status": "refused", "reason": reason})
            else:
                pairs.append((fusion, task))
    order, cover = cover_first(pairs)
    for compiled in (False, True):
        last = 0.0  # the previous cell's seconds: one more is started only if that much time is left
        for index, (fusion, task) in enumerate(order):
            cell = {"fusion": fusion, "task": task, "compile": compiled}
            if not setting.every_cell and index >= cover:
                cells.append({**cell, "status": "skipped", "reason": "the CPU path runs one cell per fusion "
                                                                     "(every task covered)"})
                continue
            if compiled and setting.compiled_cells is not None and index >= setting.compiled_cells:
                cells.append({**cell, "status": "skipped", "reason": f"the CPU path compiles {setting.compiled_cells} "
                                                                     "cells"})
                continue
            if budget.left(CELLS_END) < last:
                cells.append({**cell, "status": "skipped", "reason": "time"})
                budget.skipped.append(f"training cell {fusion} x {task}, compile {'on' if compiled else 'off'}")
                continue
            began = time.monotonic()
            try:
                result = train_cell(setting, fusion, task, compiled, root)
                cell.update(result, status="failed" if result["problems"] else "passed",
                            error="; ".join(result["problems"]) or None)
            except Exception as error:  # one cell's failure is recorded; the others go on
                cell.update(status="failed", error=last_line(error))
            free_memory()
            last = cell["seconds"] = time.monotonic() - began
            cells.append(cell)
            print(f"[gpu_check] {fusion} x {task} compile={compiled}: {cell['status']} ({last:.1f} s)"
                  + (f": {cell['error']}" if cell.get("error") else ""), file=sys.stderr, flush=True)
    return cells


def paper_batches() -> dict[str, tuple[int, str, str]]:
    """Per fusion: (batch size, task, experiment) its paper configs use most (ties: the first by name)."""
    found: dict[str, list[tuple[int, str, str]]] = {}
    for path in sorted((CONF / "experiment").glob("*.yaml")):
        cfg = compose_config([f"experiment={path.stem}"])
        found.setdefault(cfg.fusion.name, []).append((cfg.data.batch_size, cfg.task.name, path.stem))
    chosen = {}
    for fusion, entries in found.items():
        size = Counter(entry[0] for entry in entries).most_common(1)[0][0]
        chosen[fusion] = next(entry for entry in entries if entry[0] == size)
    return chosen


def peak_tflops(device: str, given: float | None) -> float | None:
    if given:
        return given
    return next((peak for part, peak in PEAK_TFLOPS.items() if part in device), None)


def measure_shape(setting: Setting, fusion: str, task: str, batch: int, root: str, peak: float | None) -> dict:
    """``measure`` at one batch size (the first warm-up step's FLOPs counted), with the MFU."""
    result = measure([*setting.shape_overrides, "logger=none", f"output_dir={root}/run", f"cache_root={root}/cache",
                      f"fusion={fusion}", f"task={task}", f"data.batch_size={batch}",
                      f"dataset.synthetic.train={batch}", "dataset.synthetic.val=4", "dataset.synthetic.test=4"],
                     setting.shape_repeats, setting.shape_steps, setting.device, bf16=setting.bf16, held_batches=1,
                     count_flops=True)
    step_seconds = result["batch_size"] / result["samples_per_second"]["median"]
    flops = result["flops_per_step"]
    return {"batch_size": result["batch_size"], "samples_per_second": result["samples_per_second"]["median"],
            "step_ms": 1000 * step_seconds, "peak_memory_mb": result["peak_memory_mb"],
            "memory_source": result["memory_source"], "flops_per_step": flops,
            "mfu": flops / step_seconds / (peak * 1e12) if peak else None}


def shape_row(setting: Setting, fusion: str, paper: tuple[int, str, str | None], deadline: float, root: str,
              peak: float | None, budget: Budget) -> dict:
    """One fusion at its paper batch size, then doubled until out of memory, the cap or ``deadline``."""
    batch, task, experiment = paper
    row = {"fusion": fusion, "task": task, "experiment": experiment, "paper_batch": batch, "runs": []}
    doublings = 0
    while True:
        began = time.monotonic()
        try:
            row["runs"].append(measure_shape(setting, fusion, task, batch, root, peak))
        except Exception as error:
            memory = isinstance(error, torch.cuda.OutOfMemoryError) or any(m in str(error) for m in MEMORY_ERRORS)
            row["stop"] = f"out of memory at batch {batch}" if memory else last_line(error)
            if not (memory and row["runs"]):  # out of memory at the paper batch, or any other error: a failure
                row["error"] = row["stop"]
        free_memory()
        if "stop" in row:
            break
        took = time.monotonic() - began
        if doublings == setting.max_doublings:
            row["stop"] = f"capped at {doublings} doubling{'s' * (doublings != 1)}"
            break
        if time.monotonic() + 2 * took > deadline:  # the next try holds twice the samples
            row["stop"] = f"time (batch {2 * batch} not tried)"
            budget.skipped.append(f"{fusion}: batch {2 * batch} and larger")
            break
        batch, doublings = 2 * batch, doublings + 1
    row["largest_batch"] = row["runs"][-1]["batch_size"] if row["runs"] else None
    print(f"[gpu_check] shapes {fusion}: {[r['batch_size'] for r in row['runs']]}, stop: {row['stop']}",
          file=sys.stderr, flush=True)
    return row


def paper_shape_rows(setting: Setting, budget: Budget, root: str, peak: float | None) -> list[dict]:
    """Each fusion (on CPU: one with a paper config and one without) gets an even slice of what is left of
    part 2's share."""
    papers = paper_batches()
    rows = []
    for index, fusion in enumerate(setting.shape_fusions):
        left = budget.left(SHAPES_END)
        if left <= 0:
            budget.skipped.append(f"the papers' shapes of {fusion}")
            continue
        deadline = time.monotonic() + left / (len(setting.shape_fusions) - index)
        rows.append(shape_row(setting, fusion, papers.get(fusion, (DEFAULT_BATCH, DEFAULT_TASK, None)), deadline,
                              root, peak, budget))
    return rows


def device_name(setting: Setting) -> str:
    if setting.device == "cuda":
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.machine()}, {os.cpu_count()} cores)"


def _number(value: float | None, digits: int = 1, scale: float = 1.0) -> str:
    return "" if value is None else f"{value * scale:.{digits}f}"


def markdown(report: dict) -> list[str]:
    setting = report["setting"]
    on_gpu = setting["device"] == "cuda"
    cells = report["training_cells"]
    matrix = {(c["fusion"], c["task"], c["compile"]): c for c in cells}

    def verdict(fusion: str, task: str) -> str:
        if (fusion, task, None) in matrix:
            return "refused"
        return " / ".join(matrix[fusion, task, compiled]["status"] for compiled in (False, True))

    failures = [f"- {c['fusion']} x {c['task']}, compile {'on' if c['compile'] else 'off'}: {c['error']}"
                for c in cells if c["status"] == "failed"]
    refused = sorted({f"- {c['fusion']} x {c['task']}: {c['reason']}" for c in cells if c["status"] == "refused"})
    runs = [[row["fusion"], row["task"], f"{row['experiment'] or 'none'} ({row['paper_batch']})",
             run["batch_size"], _number(run["samples_per_second"]), _number(run["step_ms"]),
             _number(run["peak_memory_mb"], 0), _number(run["flops_per_step"], 1, 1e-9), _number(run["mfu"], 1, 100)]
            for row in report["paper_shapes"] for run in row["runs"]]
    stops = [f"- {row['fusion']}: largest batch measured {row['largest_batch']}; stopped: {row['stop']}"
             for row in report["paper_shapes"]]
    memory = ", ".join(sorted({run["memory_source"] for row in report["paper_shapes"] for run in row["runs"]}))
    peak = report["peak_tflops"]
    lines = [
        GPU_HEADING if on_gpu else "## GPU check rehearsal on CPU (not for docs/benchmarks.md)", "",
        f"Written by `python -m benchmarks.gpu_check` on {report['date']}. Device: {report['device']}; Python "
        f"{report['python']}, torch {report['torch']} (CUDA {report['cuda']}), lightning {report['lightning']}, "
        f"transformers {report['transformers']}. Budget {report['budget_seconds']:.0f} s, took "
        f"{report['elapsed_seconds']:.0f} s; {report['failures']} failure(s)."
        + ("" if report["finished"] else " Unfinished: written after the training cells."), "",
        f"### Every fusion x task trains ({setting['precision']}, tiny random encoders, one fixed synthetic batch "
        f"of {setting['cell_batch']}, {setting['cell_steps']} AdamW steps; compile: torch.compile, backend "
        f"{setting['compile_backend']})", "",
        "Each cell: finite losses, finite gradients and a loss that falls on the batch (eager / compiled).", "",
        tabulate([[fusion, *(verdict(fusion, task) for task in TASKS)] for fusion in FUSIONS],
                 headers=["fusion", *TASKS], tablefmt="github"), "",
        *(["Failures (the error's last line):", "", *failures, ""] if failures else []),
        *(["Refused at composition:", "", *refused, ""] if refused else ["Refused at composition: none.", ""]),
        f"### The papers' shapes ({setting['shape_encoders']}; {setting['precision']}, eager)", "",
        "Synthetic sentences, padded to the batch's longest. The batch size in brackets is the one the "
        f"method's paper configs (conf/experiment) use most; the others use {DEFAULT_BATCH}. Then doubled until "
        f"out of memory, the cap or the time share. Peak memory: {memory or 'none measured'}, over the timed "
        "steps. "
        "MFU: FLOPs per step (FlopCounterMode, forward + backward) / step time / the device's dense bf16 peak "
        f"({f'{peak} TFLOP/s' if peak else 'unknown for this device: MFU left blank'}).", "",
        tabulate(runs, headers=["fusion", "task", "paper config (batch)", "batch", "samples/s", "step (ms)",
                                "peak memory (MB)", "GFLOP per step", "MFU (%)"], tablefmt="github",
                 disable_numparse=True), "",
        *stops, "",
        "Skipped for lack of time: " + ("; ".join(report["skipped"]) if report["skipped"] else "nothing") + ".", "",
    ]
    return lines


def write(out: Path, report: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2))
    (out / "gpu_check.md").write_text("\n".join(markdown(report)))


def check(setting: Setting, out: Path, budget_seconds: float, given_peak: float | None) -> int:
    """Both parts; the report is written after each (``finished`` false after the first), so a run stopped
    from outside still leaves its training cells."""
    budget = Budget(budget_seconds)
    device = device_name(setting)
    report = {"device": device, "date": str(date.today()), "python": platform.python_version(),
              "torch": torch.__version__, "cuda": torch.version.cuda, "lightning": lightning.__version__,
              "transformers": transformers.__version__, "setting": {**vars(setting), "precision": setting.precision},
              "peak_tflops": peak_tflops(device, given_peak), "budget_seconds": budget_seconds,
              "skipped": budget.skipped, "finished": False}
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as root:
        report["training_cells"] = training_cells(setting, budget, root)
        report.update(paper_shapes=[], failures=sum(c["status"] == "failed" for c in report["training_cells"]),
                      elapsed_seconds=budget.elapsed())
        write(out, report)
        report["paper_shapes"] = paper_shape_rows(setting, budget, root, report["peak_tflops"])
    report.update(failures=report["failures"] + sum("error" in row for row in report["paper_shapes"]),
                  elapsed_seconds=budget.elapsed(), finished=True)
    write(out, report)
    print(f"[gpu_check] {report['failures']} failure(s); wrote {out / 'gpu_check.json'} and {out / 'gpu_check.md'}",
          file=sys.stderr)
    return 1 if report["failures"] else 0


def publish(path: Path) -> None:
    """Write a GPU run's markdown into the GPU section of docs/benchmarks.md."""
    from benchmarks.run_all import write_section

    lines = path.read_text().splitlines()
    if not lines or lines[0] != GPU_HEADING:
        raise SystemExit(f"{path}: expected the markdown of a run on CUDA (its first line {GPU_HEADING!r}), "
                         f"found {lines[0] if lines else 'an empty file'!r}")
    print(write_section("gpu", lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/gpu_check"), help="where the JSON and markdown go")
    parser.add_argument("--cpu", action="store_true", help="the CPU rehearsal (also the default without CUDA)")
    parser.add_argument("--budget", type=float, help="seconds for the whole run (GPU 420, CPU 600)")
    parser.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak, for a device not in the table")
    parser.add_argument("--publish", type=Path, metavar="MARKDOWN", help="write a GPU run's gpu_check.md into "
                                                                          "docs/benchmarks.md and stop")
    args = parser.parse_args(argv)
    if args.publish:
        publish(args.publish)
        return 0
    setting = CPU if args.cpu or not torch.cuda.is_available() else GPU
    return check(setting, args.out, args.budget or setting.budget, args.peak_tflops)


if __name__ == "__main__":
    sys.exit(main())
