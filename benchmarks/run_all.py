"""Run every benchmark (each in its own process, so peak memory is its own) and rewrite docs/benchmarks.md."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import date
from pathlib import Path

import lightning
import torch
import transformers

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> dict:
    output = subprocess.run([sys.executable, "-m", f"benchmarks.{script}", *args], cwd=ROOT, check=True,
                            capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}).stdout
    return json.loads(output.strip().splitlines()[-1])


def fmt(stats: dict) -> str:
    return f"{stats['min']:.1f} / {stats['median']:.1f} / {stats['max']:.1f}"


def main() -> None:
    training = [run("train_throughput", fusion) for fusion in ("text_only", "concat", "hvpnet", "muse", "pmei", "mase")]
    loading = run("data_loading")
    exchange = run("exchange_overhead")
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    lines = [
        "# Benchmarks", "",
        f"Written by `make bench` on {date.today()}. Machine: {device}, {platform.platform()}; Python "
        f"{platform.python_version()}, torch {torch.__version__}, lightning {lightning.__version__}, "
        f"transformers {transformers.__version__}. Figures are min / median / max over repeats "
        "(3 per training run, 10 per layer timing).", "",
        "## Training throughput (default sizes: minilm + effnet_lite0 frozen, synthetic mner, batch 32, fp32)", "",
        "| fusion | samples/s (min / median / max) | step time (ms, median) | peak memory (MB) | memory measured as |",
        "| --- | --- | --- | --- | --- |",
        *[f"| {r['fusion']} | {fmt(r['samples_per_second'])} | {1000 * r['batch_size'] / r['samples_per_second']['median']:.0f} "
          f"| {r['peak_memory_mb']:.0f} | {r['memory_source']} |" for r in training], "",
        "## Image loading for concat (synthetic mner train split, batch 32)", "",
        "| path | samples/s (min / median / max) |", "| --- | --- |",
        f"| pixels + frozen effnet_lite0 forward | {fmt(loading['pixels_and_encoder'])} |",
        f"| on-disk feature cache | {fmt(loading['feature_cache'])} |", "",
        "## MuSE exchanging layer (forward + backward, d = 768, 12 heads, B = 32, 65 + 65 tokens, theta = 0.1)", "",
        "| layer | ms per step (min / median / max) |", "| --- | --- |",
        f"| shared layer, no exchange | {fmt(exchange['plain_ms'])} |",
        f"| exchanging layer (vectorised) | {fmt(exchange['exchange_ms'])} |",
        f"| the exchange step alone | {fmt(exchange['exchange_alone_ms'])} |", "",
        f"Exchange overhead: {exchange['overhead_percent']:+.1f} % (median of paired, alternating repeats; "
        f"{exchange['threads']} threads; target: at most +5 %). The exchange step alone costs "
        f"{exchange['exchange_alone_percent']:.1f} % of the plain layer.", "",
    ]
    (ROOT / "docs" / "benchmarks.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
