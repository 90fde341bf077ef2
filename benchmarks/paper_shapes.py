"""One training step of every method at its paper's shapes on CPU, one thread: seconds per step, where the
forward pass goes by module, and operator profiles of MuSE's and HVPNeT's steps.

Each method runs its paper config (``conf/experiment``; text_only and concat: HVPNeT's Twitter-2015 shapes) with
random weights at the papers' sizes, built offline: a bert-base-sized BERT and ResNet-50 (MuSE: ResNet-152),
frozen or fine-tuned as the config says (a frozen encoder's features come from the feature cache, as in training).
Batches of 8 synthetic examples at 224 x 224, their sentences lengthened with random WordPieces to the config's
``data.max_length`` tokens. All models are built first, then timed in rounds (the order rotating), so ratios
between methods come from one run on one machine state. In each round every method also takes one step as it ran
before the speed work of issue 31 (PyTorch's default memory layout and its kernel for 1 x 1 convolutions, AdamW's
per-tensor loop, PixelCNN++ dropping elements rather than channels and using PyTorch's ELU, the text encoder
and MuSE's CrossTransformer computing padding and the encoder's last layer every token, PyTorch's dropout masks;
MuSE's captioner keeps its products over all steps), on the same model and batch, so the speed-up is measured
in the same run, and one under bf16-mixed (Lightning's CPU autocast, what ``trainer.precision=bf16-mixed`` runs:
bf16 matrix products and convolutions, fp32 weights and optimiser), which CPUs with AMX or AVX-512 bf16 units run
natively.
These sentences have no padding; ``benchmarks/real_sentences.py`` measures real ones. Both run with freed memory
retained, as training does; what that is worth is measured apart, in processes (``benchmarks/freed_memory.py``).
Usage: python -m benchmarks.paper_shapes [rounds [fusion ...]]; prints one JSON line.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import sys
import time
from collections import defaultdict

import torch
from lightning.pytorch.plugins.precision import MixedPrecision
from tabulate import tabulate
from torch import nn
from torch.nn import functional as F
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import Timer, build, compose_config
from fusionlab.encoders.dropout import use_random_bits_dropout
from fusionlab.encoders.layout import CONVOLUTION_LAYOUT, set_memory_format
from fusionlab.encoders.text import TextEncoder
from fusionlab.fusion.muse import image_decoder
from fusionlab.fusion.muse.cross_transformer import CrossTransformer
from fusionlab.fusion.muse.image_decoder import GatedResnet
from fusionlab.run.freed_memory import retain_freed_memory

BATCH = 8
ARMS = ("fp32", "before", "bf16-mixed")  # the ways each step is timed, in this order in the first round
PROFILED = ("muse", "hvpnet")  # the methods whose step is profiled operator by operator
TWITTER_SHAPES = ["experiment=hvpnet_twitter2015"]
PAPER_CONFIGS = {  # the paper config each method runs; text_only and concat take HVPNeT's Twitter-2015 shapes
    "text_only": [*TWITTER_SHAPES, "fusion=text_only"],
    "concat": [*TWITTER_SHAPES, "fusion=concat"],
    "hvpnet": ["experiment=hvpnet_twitter2015"],
    "muse": ["experiment=muse_twitter2015"],
    "pmei": ["experiment=pmei_mnre"],
    "mase": ["experiment=mase_mnre", "encoder.proxy.name=tiny_clip"],  # CLIP's text tower needs a download
}
EXP_ELU, CONCAT_ELU = image_decoder.elu, image_decoder.concat_elu


def pytorch_concat_elu(x: torch.Tensor) -> torch.Tensor:
    """PixelCNN++'s concatenated ELU as it was computed before: [x; -x] built, then PyTorch's ELU."""
    return F.elu(torch.cat([x, -x], dim=1))

COMPUTE_FAMILIES = {  # FLOPs as FlopCounterMode names the operators; seconds as the profiler does (self time)
    "matrix products": (("mm", "addmm", "bmm"), ("mm", "addmm", "bmm")),
    "convolutions (forward and backward)": (
        ("convolution", "convolution_backward"),
        ("mkldnn_convolution", "_slow_conv2d_forward", "convolution_backward", "_slow_conv2d_backward")),
}
RANDOM_BACKBONES = {"resnet50": "resnet50_random", "resnet152": "resnet152_random"}
SMALL_SYNTHETIC = ["dataset=synthetic", "dataset.synthetic.train=16", "dataset.synthetic.val=8",
                   "dataset.synthetic.test=8", "dataset.synthetic.image_size=224", "data.image_size=224"]


class MethodStep:
    """One method's model, optimiser and fixed batch; ``step()`` is one optimiser step, ``forward_by_module``
    the forward seconds of the method's parts over the steps since ``reset``."""

    def __init__(self, fusion: str, data: list[str] = SMALL_SYNTHETIC):
        backbone = RANDOM_BACKBONES[compose_config(PAPER_CONFIGS[fusion]).encoder.vision.name]
        self.cfg, self.datamodule, self.model = build([*PAPER_CONFIGS[fusion], *data, "trainer=cpu",
                                                       "encoder.text.name=bert_base_random",
                                                       f"encoder.vision.name={backbone}", f"data.batch_size={BATCH}"])
        self.fusion, self.backbone = fusion, backbone
        self.batch = lengthened(next(iter(self.datamodule.train_dataloader())), self.cfg.data.max_length)
        self.packing = [m for m in self.model.modules() if isinstance(m, (TextEncoder, CrossTransformer)) and m.pack_tokens]
        self.model.train()
        self.optimizer = self.model.optimizer()
        self.optimised, self.bf16 = True, False
        self.forward_seconds: dict[str, float] = defaultdict(float)
        self._running: list[tuple[str, float]] = []
        parts = [(name, module) for name, module in self.model.method.named_modules() if name and name.count(".") < 2]
        for name, module in [*parts, ("task head", self.model.head)]:
            module.register_forward_pre_hook(lambda *_, name=name: self._start(name))
            module.register_forward_hook(lambda *_, name=name: self._stop())

    def _start(self, name: str) -> None:
        self._running.append((name, time.perf_counter()))

    def _stop(self) -> None:
        """Time is counted for the outermost part running (a part called inside another belongs to it), in
        optimised fp32 steps."""
        name, started = self._running.pop()
        if not self._running and self.optimised and not self.bf16:
            self.forward_seconds[name] += time.perf_counter() - started

    def use(self, arm: str) -> None:
        """Step as ``arm`` (one of ``ARMS``) says. The optimised code (fp32, bf16-mixed): channels-last
        convolutions (1 x 1 ones as matrix products), channel dropout and the exp ELUs in PixelCNN++, packed
        text tokens (text encoder and CrossTransformer; the encoder's last layer at the head's tokens) and dropout
        masks from random bits; before: the layout (PyTorch's kernels for 1 x 1 ones), element dropout, PyTorch's
        ELU, padded text (every token through the last layer) and PyTorch's dropout
        masks of before (the ELUs are swapped in the image decoder's module, for every model at once).
        bf16-mixed runs the forward pass under Lightning's bf16 autocast. The optimiser is what training takes
        for each (``FusionModel.optimizer``): the fused AdamW in fp32 and under bf16-mixed; before, AdamW's
        per-tensor loop."""
        if arm not in ARMS:
            raise ValueError(f"no arm {arm!r}: one of {ARMS}")
        optimised, bf16 = arm != "before", arm == "bf16-mixed"
        set_memory_format(self.model, CONVOLUTION_LAYOUT if optimised else torch.contiguous_format)
        kernel = (self.model.adamw_kernel("bf16-mixed" if bf16 else "32-true") if optimised
                  else {"fused": None, "foreach": None})
        for group in self.optimizer.param_groups:
            group.update(kernel)
        for block in self.model.modules():
            if isinstance(block, GatedResnet):
                block.dropout = (nn.Dropout2d if optimised else nn.Dropout)(block.dropout.p)
        for module in self.packing:
            module.pack_tokens = optimised
        image_decoder.elu = EXP_ELU if optimised else F.elu
        image_decoder.concat_elu = CONCAT_ELU if optimised else pytorch_concat_elu
        use_random_bits_dropout(self.model, optimised)
        self.optimised, self.bf16 = optimised, bf16

    def step(self, batch: dict | None = None) -> dict[str, float]:
        """Forward, backward and optimiser seconds of one step on ``batch`` (default: the fixed one)."""
        self.optimizer.zero_grad(set_to_none=True)
        with Timer() as forward, forward_precision(self.bf16):
            loss = self.model.training_step(self.batch if batch is None else batch, 0)
        with Timer() as backward:
            loss.backward()
        with Timer() as optimiser:
            self.optimizer.step()
        if not torch.isfinite(loss):
            raise RuntimeError(f"{self.fusion}: the loss is {loss.item()}")
        return {"forward": forward.seconds, "backward": backward.seconds, "optimiser": optimiser.seconds}

    def seconds(self, arm: str, batch: dict) -> float:
        """Seconds of one step on ``batch`` as ``arm`` (one of ``ARMS``) steps."""
        self.use(arm)
        return sum(self.step(batch).values())

    def warm_up(self, batch: dict | None = None) -> None:
        """One step of every arm (first-step allocations, lazy initialisation, kernels made), then fp32."""
        for arm in ARMS:
            self.use(arm)
            self.step(batch)
        self.use("fp32")
        self.reset()

    def reset(self) -> None:
        self.forward_seconds.clear()


def forward_precision(bf16: bool) -> contextlib.AbstractContextManager:
    """What the Trainer wraps a forward pass in: Lightning's CPU bf16 autocast under bf16-mixed, else nothing."""
    return MixedPrecision("bf16-mixed", "cpu").forward_context() if bf16 else contextlib.nullcontext()


def lengthened(batch: dict, tokens: int) -> dict:
    """The batch with every sentence extended to ``tokens`` WordPieces by random ids (attended), so the text
    encoder works at the paper's length; the words the task reads stay the first ones."""
    ids, mask = batch["input_ids"], batch["attention_mask"]
    extra = tokens - ids.size(1)
    if extra <= 0:
        return batch
    generator = torch.Generator().manual_seed(0)
    filler = torch.randint(1000, 30000, (ids.size(0), extra), generator=generator, dtype=ids.dtype)
    return {**batch, "input_ids": torch.cat([ids, filler], dim=1),
            "attention_mask": torch.cat([mask, torch.ones_like(filler, dtype=mask.dtype)], dim=1)}


def operator_profile(method: MethodStep, rows: int = 12) -> tuple[list[dict], list[dict]]:
    """The operators taking the most self CPU time in one step, and the rate at which the step computes its
    matrix products and convolutions: their FLOPs (``FlopCounterMode``, in a step of its own) over their time."""
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        method.step()
    averages = profiler.key_averages()
    events = sorted(averages, key=lambda e: e.self_cpu_time_total, reverse=True)[:rows]
    operators = [{"operator": e.key, "self_seconds": e.self_cpu_time_total / 1e6, "calls": e.count} for e in events]
    with FlopCounterMode(display=False) as counter:
        method.step()
    flops = {str(op).split(".")[1]: count for op, count in counter.get_flop_counts()["Global"].items()}
    seconds = {e.key.removeprefix("aten::"): e.self_cpu_time_total / 1e6 for e in averages}
    total = sum(e.self_cpu_time_total for e in averages if e.key.startswith("aten::")) / 1e6
    rates = []
    for family, (counted, timed) in COMPUTE_FAMILIES.items():
        family_seconds = sum(seconds.get(name, 0.0) for name in timed)
        family_flops = sum(flops.get(name, 0) for name in counted)
        if not family_seconds and not family_flops:  # a family the step does not run (HVPNeT's cached CNN)
            continue
        rates.append({"family": family, "seconds": family_seconds, "gflop": family_flops / 1e9,
                      "gflops_per_second": family_flops / 1e9 / family_seconds if family_seconds else None})
    rates.append({"family": "every other operator", "seconds": total - sum(r["seconds"] for r in rates),
                  "gflop": None, "gflops_per_second": None})
    return operators, rates


def rotated(items: list | tuple, index: int) -> list:
    """``items`` in round ``index``: each goes first in turn."""
    shift = index % len(items)
    return [*items[shift:], *items[:shift]]


def arm_order(index: int) -> tuple[str, ...]:
    """The arms in round ``index``: each goes first in turn."""
    return tuple(rotated(ARMS, index))


def bf16_units() -> str:
    """What this CPU computes bf16 with: AMX tiles, AVX-512 bf16 instructions, or neither (then bf16 is emulated)."""
    if torch.cpu._is_amx_tile_supported():  # torch's own checks (private): AMX tiles, as oneDNN uses them
        return "AMX"
    return "AVX-512 bf16" if torch.cpu._is_avx512_bf16_supported() else "none"


def matmul_rate(size: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of one large float32 matrix product on this thread: what the machine's BLAS reaches."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    with Timer() as timer:
        for _ in range(repeats):
            a @ b
    return 2 * size**3 * repeats / timer.seconds / 1e9


def main(rounds: int = 3, fusions: tuple[str, ...] = tuple(PAPER_CONFIGS)) -> dict:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    methods = [MethodStep(fusion) for fusion in fusions]
    retain_freed_memory()  # as training runs (performance.retain_freed_memory); its share: benchmarks/freed_memory.py
    for method in methods:
        method.warm_up()
    steps = {arm: defaultdict(list) for arm in ARMS}
    for round_index in range(rounds):
        for method in rotated(methods, round_index):
            for arm in arm_order(round_index):
                method.use(arm)
                steps[arm][method.fusion].append(method.step())
            method.use("fp32")
    results = []
    for method in methods:
        timed = steps["fp32"][method.fusion]
        step_seconds, before_seconds, bf16_seconds = ([sum(s.values()) for s in steps[arm][method.fusion]]
                                                      for arm in ARMS)
        results.append({"fusion": method.fusion, "config": " ".join(PAPER_CONFIGS[method.fusion]),
                        "text_tokens": method.batch["input_ids"].size(1), "vision": method.backbone,
                        "vision_frozen": bool(method.cfg.encoder.vision.freeze), "step_seconds": step_seconds,
                        "before_seconds": before_seconds,
                        "speedup": statistics.median(b / a for a, b in zip(step_seconds, before_seconds)),
                        "bf16_seconds": bf16_seconds,
                        "bf16_speedup": statistics.median(a / b for a, b in zip(step_seconds, bf16_seconds)),
                        "parts": {part: statistics.median(s[part] for s in timed) for part in timed[0]},
                        "forward_by_module": {k: v / rounds for k, v in sorted(
                            method.forward_seconds.items(), key=lambda item: -item[1])}})
    profiles = []
    for method in [m for m in methods if m.fusion in PROFILED] or methods[:1]:
        operators, rates = operator_profile(method)
        profiles.append({"fusion": method.fusion, "operators": operators, "compute_rates": rates})
    return {"batch_size": BATCH, "threads": torch.get_num_threads(), "rounds": rounds, "methods": results,
            "bf16_units": bf16_units(), "profiles": profiles, "matmul_gflops_per_second": matmul_rate()}


def markdown(result: dict) -> list[str]:
    """The papers'-shape table, the forward breakdown and the profiles, as docs/benchmarks.md shows them."""
    rows = [[m["fusion"], m["config"], m["vision"] + (" (frozen, cached)" if m["vision_frozen"] else ""),
             m["text_tokens"], f"{statistics.median(m['step_seconds']):.2f}",
             f"{min(m['step_seconds']):.2f} / {max(m['step_seconds']):.2f}",
             " / ".join(f"{m['parts'][p]:.2f}" for p in ("forward", "backward", "optimiser")),
             f"{statistics.median(m['before_seconds']):.2f}", f"{m['speedup']:.2f}x",
             f"{statistics.median(m['bf16_seconds']):.2f}", f"{m['bf16_speedup']:.2f}x"]
            for m in result["methods"]]
    modules = [[m["fusion"], ", ".join(f"{name} {s:.2f}" for name, s in m["forward_by_module"].items() if s >= 0.01)]
               for m in result["methods"]]
    return [
        tabulate(rows, ["fusion", "config", "vision encoder", "tokens", "s / step (median)", "min / max",
                        "forward / backward / optimiser (s)",
                        "s / step before (median)", "speed-up (median of paired rounds)",
                        "s / step bf16-mixed (median)", "bf16-mixed speed-up over fp32"], tablefmt="github"), "",
        (f"bf16-mixed ran on this CPU's {result['bf16_units']} bf16 units." if result["bf16_units"] != "none" else
         "This CPU has no bf16 units: bf16-mixed ran emulated."), "",
        "Forward seconds by module (median step; the method's parts and the task head):", "",
        tabulate(modules, ["fusion", "forward by module (s)"], tablefmt="github"), "",
        *[line for profile in result["profiles"] for line in profile_tables(profile, result["matmul_gflops_per_second"])],
    ]


def profile_tables(profile: dict, matmul_rate: float) -> list[str]:
    """One method's operator profile and compute rates, as docs/benchmarks.md shows them."""
    operators = [[o["operator"], f"{o['self_seconds']:.2f}", o["calls"]] for o in profile["operators"]]
    rates = [[r["family"], f"{r['seconds']:.2f}", "" if r["gflop"] is None else f"{r['gflop']:.0f}",
              "" if r["gflops_per_second"] is None else f"{r['gflops_per_second']:.0f}"]
             for r in profile["compute_rates"]]
    return [
        f"Operators taking the most time in one {profile['fusion']} step (torch.profiler, self CPU time):", "",
        tabulate(operators, ["operator", "self seconds", "calls"], tablefmt="github"), "",
        f"How fast that {profile['fusion']} step computes (FLOPs counted by `FlopCounterMode` in a step of its own, "
        f"over the operators' self time); one 2048 x 2048 float32 matrix product alone runs at {matmul_rate:.0f} "
        f"GFLOP/s on this thread:", "",
        tabulate(rates, ["operators", "seconds", "GFLOP", "GFLOP/s"], tablefmt="github", disable_numparse=True), "",
    ]


if __name__ == "__main__":
    print(json.dumps(main(*(int(a) for a in sys.argv[1:2]), *([tuple(sys.argv[2:])] if sys.argv[2:] else []))))
