"""Run the benchmarks of this machine (each in its own process, so peak memory is its own) and rewrite its
section of docs/benchmarks.md: with a CUDA GPU, training at the papers' shapes in bf16 with and without
torch.compile; otherwise the CPU benchmarks. The other sections of the file are kept as they were."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import lightning
import torch
import transformers

from benchmarks import freed_memory, paper_shapes, real_sentences

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

`make bench` measures the machine it runs on and rewrites that machine's section below: with a CUDA GPU,
training at the papers' shapes in bf16 with and without torch.compile; otherwise the CPU benchmarks.
The other sections are kept as they were. `make bench-reference` writes the section against the authors' code.
"""
FUSIONS = ("text_only", "concat", "hvpnet", "muse", "pmei", "mase")
RUN_SECONDS = 1800  # one benchmark process at most (a GPU run with compilation takes minutes)


def run(script: str, *args: str) -> dict:
    output = subprocess.run([sys.executable, "-m", f"benchmarks.{script}", *args], cwd=ROOT, check=True,
                            capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                            timeout=RUN_SECONDS).stdout
    return json.loads(output.strip().splitlines()[-1])


def attempt(script: str, *args: str) -> dict:
    """``run``, or ``{"error": ...}`` (its last line of stderr) when it fails: one fusion that does not
    compile still leaves the others' figures."""
    try:
        return run(script, *args)
    except subprocess.CalledProcessError as error:
        return {"error": (error.stderr.strip().splitlines() or [f"exit status {error.returncode}"])[-1]}
    except subprocess.TimeoutExpired:
        return {"error": f"not finished in {RUN_SECONDS} s"}


def fmt(stats: dict) -> str:
    return f"{stats['min']:.1f} / {stats['median']:.1f} / {stats['max']:.1f}"


def versions(machine: str, by: str = "make bench") -> str:
    return (f"Written by `{by}` on {date.today()}. Machine: {machine}, {platform.platform()}; Python "
            f"{platform.python_version()}, torch {torch.__version__}, lightning {lightning.__version__}, "
            f"transformers {transformers.__version__}.")


def step_ms(result: dict) -> float:
    return 1000 * result["batch_size"] / result["samples_per_second"]["median"]


def cpu_section() -> list[str]:
    shapes = run("paper_shapes")
    real = run("real_sentences")
    freed = run("freed_memory")
    training = [run("train_throughput", fusion) for fusion in FUSIONS]
    loading = run("data_loading")
    exchange = run("exchange_overhead")
    return [
        "## CPU", "",
        f"{versions(f'CPU ({os.cpu_count()} cores)')} Figures are min / median / max over repeats "
        "(3 per training run, 10 per layer timing).", "",
        f"### The papers' shapes (one training step, batch {shapes['batch_size']}, {shapes['threads']} thread, "
        f"random weights, {shapes['rounds']} rounds, the order rotating)", "",
        "Each method under its paper config (`benchmarks/paper_shapes.py`: a bert-base-sized BERT, ResNet-50 or "
        "MuSE's ResNet-152, frozen or trained as the config says; synthetic 224 x 224 images, sentences "
        "lengthened to the config's `max_length`, so without padding). *Before*: the same model and batch as the "
        "code ran before the speed work (PyTorch's default memory layout and its 1 x 1 convolution kernel, "
        "AdamW's per-tensor loop, PixelCNN++ dropping elements and using PyTorch's ELU, the text encoder and "
        "MuSE's CrossTransformer computing padding and the encoder's last layer every token, PyTorch's dropout "
        "masks; MuSE's captioner keeps its products over all steps), timed in the same rounds. *bf16-mixed*: the "
        "optimised step under "
        "Lightning's bf16 autocast (`trainer.precision=bf16-mixed`: "
        "bf16 matrix products and convolutions, fp32 weights and optimiser), also in the same rounds; other "
        "arithmetic, not the same one faster (docs/guide.md, speed).", "",
        *paper_shapes.markdown(shapes),
        "### Real Twitter-2015 sentences (one training step, batch 8, 1 thread, random weights, each way of "
        "stepping on the same batches)", "",
        "The same models built on the real training split (`benchmarks/real_sentences.py`), stepping on its "
        "first shuffled batches, padded to their longest sentence as training pads them; the images are random "
        "pixels (or cached features), all present. Packed text tokens (`encoder.text.pack_tokens`, and MuSE's "
        "CrossTransformer with it) skip the padding, and the encoder's last layer computes the tokens the head "
        "reads only (HVPNeT: each word's first sub-token); *before* computes them all, with the rest of the code "
        "before the speed work; *bf16-mixed* is the optimised step under bf16 autocast. The three take turns going "
        "first.", "",
        *real_sentences.markdown(real),
        f"### Keeping freed memory (`performance.retain_freed_memory`; {freed['pairs']} pairs of processes, "
        f"{freed['warm_up_steps']} warm-up and {freed['steps']} timed steps each)", "",
        "The same step under glibc's default allocator and with the memory a step frees kept for the next "
        "(`benchmarks/freed_memory.py`). The default cannot be restored inside a process, so each figure "
        "comes from its own process, the two kinds alternating; the table above ran with freed memory kept "
        "in both columns, as training does.", "",
        *freed_memory.markdown(freed),
        "### Training throughput (default sizes: minilm + effnet_lite0 frozen, synthetic mner, batch 32, fp32)", "",
        "| fusion | samples/s (min / median / max) | step time (ms, median) | peak memory (MB) | memory measured as |",
        "| --- | --- | --- | --- | --- |",
        *[f"| {r['fusion']} | {fmt(r['samples_per_second'])} | {step_ms(r):.0f} "
          f"| {r['peak_memory_mb']:.0f} | {r['memory_source']} |" for r in training], "",
        "### Image loading for concat (synthetic mner train split, batch 32)", "",
        "| path | samples/s (min / median / max) |", "| --- | --- |",
        f"| pixels + frozen effnet_lite0 forward | {fmt(loading['pixels_and_encoder'])} |",
        f"| on-disk feature cache | {fmt(loading['feature_cache'])} |", "",
        "### MuSE exchanging layer (forward + backward, d = 768, 12 heads, B = 32, 65 + 65 tokens, theta = 0.1)", "",
        "| layer | ms per step (min / median / max) |", "| --- | --- |",
        f"| shared layer, no exchange | {fmt(exchange['plain_ms'])} |",
        f"| exchanging layer (vectorised) | {fmt(exchange['exchange_ms'])} |",
        f"| the exchange step alone | {fmt(exchange['exchange_alone_ms'])} |", "",
        f"Exchange overhead: {exchange['overhead_percent']:+.1f} % (median of paired, alternating repeats; "
        f"{exchange['threads']} threads; target: at most +5 %). The exchange step alone costs "
        f"{exchange['exchange_alone_percent']:.1f} % of the plain layer.", "",
    ]


def gpu_row(fusion: str, compiled: bool, result: dict) -> str:
    if "error" in result:
        return f"| {fusion} | {'yes' if compiled else 'no'} | failed: {result['error'][:200]} | | | |"
    return (f"| {fusion} | {'yes' if compiled else 'no'} | {fmt(result['samples_per_second'])} | {step_ms(result):.0f} "
            f"| {result['peak_memory_mb']:.0f} | {result['warmup_seconds']:.0f} |")


def gpu_section() -> list[str]:
    rows = []
    for fusion in FUSIONS:
        for compiled in (False, True):
            flags = ("--gpu", "--compile") if compiled else ("--gpu",)
            rows.append(gpu_row(fusion, compiled, attempt("train_throughput", fusion, *flags)))
    return [
        "## GPU", "",
        f"{versions(torch.cuda.get_device_name(0))} Figures are min / median / max over 3 repeats of 10 steps.", "",
        "### Training throughput (the papers' shapes: bert-base-uncased-sized text encoder + ResNet-50, both "
        "trained, random weights; synthetic mner, batch 32, 80 tokens, 224 x 224 images; bf16 autocast, TF32)", "",
        "Batches are held on the GPU (8, cycled), so the figures are the model's, not image decoding's. The "
        "warm-up runs each of them once (with torch.compile: the compilation); peak memory is "
        "`torch.cuda.max_memory_allocated` over the timed steps.", "",
        "| fusion | torch.compile | samples/s (min / median / max) | step time (ms, median) | peak memory (MB) "
        "| warm-up (s) |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows, "",
    ]


def write_section(kind: str, lines: list[str]) -> str:
    """Replace the ``kind`` section of docs/benchmarks.md, keeping the others."""
    text = DOC.read_text() if DOC.exists() else ""
    block = f"<!-- begin {kind} -->\n" + "\n".join(lines) + f"\n<!-- end {kind} -->"
    pattern = re.compile(f"<!-- begin {kind} -->.*?<!-- end {kind} -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = (text or HEADER) + f"\n{block}\n"
    DOC.write_text(text)
    return block


def main() -> None:
    kind = "gpu" if torch.cuda.is_available() else "cpu"
    print(write_section(kind, gpu_section() if kind == "gpu" else cpu_section()))


if __name__ == "__main__":
    main()
