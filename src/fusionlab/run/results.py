"""What a finished run's ``results.json`` holds: its metrics, history, cost, data and provenance."""

from __future__ import annotations

import os
import resource
import subprocess
from pathlib import Path

import torch

from fusionlab.run.recorder import RunRecorder


def count_parameters(module: torch.nn.Module) -> dict[str, int]:
    params = list(module.parameters())
    return {"total": sum(p.numel() for p in params), "trainable": sum(p.numel() for p in params if p.requires_grad)}


PROC_STATUS, PROC_CLEAR_REFS = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def reset_peak_memory() -> None:
    """Start a run's high-water mark afresh: the runs of a sweep share a process (the basic launcher
    runs them all in one, joblib reuses its workers), so a lifetime peak would carry over between them."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    if PROC_CLEAR_REFS.exists():
        PROC_CLEAR_REFS.write_text("5")  # Linux: resets VmHWM, the peak resident set size


def peak_memory() -> tuple[float, str]:
    """The peak since ``reset_peak_memory`` in MB, and how it was measured. Without /proc (macOS,
    Windows) the CPU figure is the process's lifetime peak, and its source says so."""
    if torch.cuda.is_available() and torch.cuda.max_memory_allocated() > 0:
        return torch.cuda.max_memory_allocated() / 2**20, "cuda_max_memory_allocated"
    if PROC_CLEAR_REFS.exists() and PROC_STATUS.exists():
        for line in PROC_STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024, "process_peak_rss"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process_lifetime_max_rss"


def code_version(here: Path = Path(__file__).parent) -> dict:
    """The commit the code in ``here`` (default: this package) came from, and whether the work tree differed from
    it (None outside git)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None}
    if commit.returncode:
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def device_description(processes: int = 1) -> str:
    """What the run trained on, for every figure it produces: the GPU's name, or the CPU's model and threads."""
    if torch.cuda.is_available():
        return f"{processes} x {torch.cuda.get_device_name(0)}"
    cpuinfo = Path("/proc/cpuinfo")
    model = next((line.split(":", 1)[1].strip() for line in (cpuinfo.read_text().splitlines() if cpuinfo.exists()
                                                            else []) if line.startswith("model name")), "CPU")
    return f"{processes} process(es) on {model}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads each"


def build_results(*, config: dict, monitor: str, recorder: RunRecorder, best: dict | None, test_metrics: dict,
                  model, data_stats: dict, failed_images: int, labels: dict, run: dict) -> dict:
    """``best``: the validation (``RunRecorder.val_history`` entry) of the checkpoint that was tested."""
    train_seconds = sum(recorder.epoch_seconds)
    memory, source = peak_memory()
    return {
        "fusion": config["fusion"]["name"], "task": config["task"]["name"], "dataset": config["dataset"]["name"],
        "seed": config["seed"], "tags": list(config.get("tags") or []),
        "encoders": {"text": config["encoder"]["text"]["name"], "vision": config["encoder"]["vision"]["name"]},
        "metrics": {"val": best["metrics"] if best else {},
                    "test": {k.removeprefix("test/"): float(v) for k, v in test_metrics.items()
                             if k.startswith("test/")},
                    "test_groups": per_group(test_metrics)},
        "best_epoch": best["epoch"] if best else None,
        "best_step": best["step"] if best else None,
        "val_history": recorder.val_history,
        "monitor": monitor,
        "labels": labels,
        "params": count_parameters(model),
        **({"method": model.summary()} if model.summary() else {}),
        "timing": {"train_seconds_per_epoch": recorder.epoch_seconds,
                   "eval_seconds": recorder.test_seconds,
                   "train_samples_per_second": recorder.train_samples / train_seconds if train_seconds else None},
        "peak_memory_mb": memory, "peak_memory_source": source,
        "data": {**data_stats, "unreadable_images": failed_images},
        "run": run,
        "config": config,
    }


def per_group(test_metrics: dict) -> dict[str, dict[str, float]]:
    """``test_group/<group>/<metric>`` entries as {group: {metric: value}}."""
    groups: dict[str, dict[str, float]] = {}
    for key, value in test_metrics.items():
        if key.startswith("test_group/"):
            group, metric = key.removeprefix("test_group/").rsplit("/", 1)
            groups.setdefault(group, {})[metric] = float(value)
    return groups
