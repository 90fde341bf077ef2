"""HVPNeT and MuSE beside their authors' code: one training step of each on the same real Twitter-2015 batches at
the papers' shapes (CPU, one thread, batch 8, random weights), every way of stepping taking its turn to go first.

The authors' code is read from clones the user points at (github.com/zjunlp/HVPNeT, github.com/RecklessRonan/MuSE);
nothing of it is copied here. It builds their Twitter-2015 NER models as their scripts do (run_twitter15.sh;
run_t15.sh: ResNet-152 with stages 2-4 trained, 6 exchange layers, quantile theta 0.1, PixelCNN++ 80 filters, the
word captioner over our training vocabulary) with random weights, pads every sentence to their ``max_seq`` (80; 64),
and steps as their training loops do: the forward they run (HVPNeT's runs the CRF's Viterbi decode too and its
frozen ResNet-50 on the image and its three crops; MuSE's every loss), backward, gradient clipping where they clip
(MuSE), and the optimiser. Ours is ``benchmarks.real_sentences``'s optimised step of the paper config on the same
batches (images random, all present): in fp32 and under bf16-mixed, HVPNeT with its frozen ResNet-50 cached as
training caches it; and HVPNeT once more in fp32 with that ResNet-50 run at every step, as theirs runs it. Theirs
also steps under bf16-mixed (Lightning's CPU autocast around their forward pass and losses, as around ours), which
their scripts do not offer, so that ours and theirs are compared in bf16 arithmetic too.

Their code was written for transformers 4 and imports packages its step never uses; ``ReferenceCode`` fills in
exactly that, named there (docstring decorators, two helpers transformers 5 moved, BERT's additive attention
mask and empty head mask, the optimiser transformers 5 dropped, spaCy and TensorBoard, which only its data
loading and logging use), and on CPU the one ``.cuda()`` its mixture loss calls unconditionally does nothing;
under bf16 autocast, MuSE's exchange hands its bf16 attention weights to numpy as float32.
Their optimisers: HVPNeT's ``torch.optim.AdamW`` as written; MuSE's transformers ``AdamW`` (a per-tensor loop)
becomes ``torch.optim.AdamW``'s per-tensor loop. MuSE's BERT is transformers' own, so it runs as the installed
transformers runs it, as ours does; HVPNeT's is its own copy, with its own attention.
Usage: python -m benchmarks.against_reference HVPNET_CLONE MUSE_CLONE [batches, default 12] (make bench-reference);
writes the ``reference`` section of docs/benchmarks.md and prints it. Six batches swing the ratios by several
percent from run to run (HVPNeT's most: its ratio grows as sentences shorten), hence twelve.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch
import torchvision
import transformers
from scipy import stats
from tabulate import tabulate
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.paper_shapes import MethodStep, bf16_units, forward_precision, rotated
from benchmarks.real_sentences import DATASET, data_root, real_batches, real_data
from benchmarks.run_all import versions, write_section
from fusionlab.run.freed_memory import retain_freed_memory
from fusionlab.run.results import code_version

BATCH = 8
HVPNET_MAX_SEQ, MUSE_MAX_SEQ = 80, 64  # run_twitter15.sh --max_seq; main.py's --max_seq_length default
FROZEN_CNN_EVERY_STEP = {"hvpnet": ["data.feature_cache=false"]}  # MuSE trains its CNN: it has no cache to leave out
UNCACHED = "ours, frozen CNN every step"
COUNTED_BATCHES = 4  # the first timed batches, whose steps' FLOPs are counted in steps of their own
RESAMPLES = 10_000  # the bootstrap's, for the interval of each median ratio
RATIOS = {  # each ratio, per batch: the authors' seconds over ours
    "ours": ("reference", "ours"),
    UNCACHED: ("reference", UNCACHED),
    "ours bf16-mixed": ("reference", "ours bf16-mixed"),
    "both bf16-mixed": ("reference bf16-mixed", "ours bf16-mixed"),
}


def padded(values: torch.Tensor, length: int) -> torch.Tensor:
    """``values`` [B, n] right-padded with zeros (or cut) to ``length`` columns, as the authors' datasets pad."""
    return nn.functional.pad(values, (0, length - values.size(1)))[:, :length]


class ReferenceCode:
    """The authors' modules imported from their clones, with the shims named in the module docstring."""

    def __init__(self, hvpnet_root: Path, muse_root: Path):
        for clone, expected in ((hvpnet_root, "models/bert_model.py"), (muse_root, "code/main.py")):
            if not (clone / expected).exists():
                raise FileNotFoundError(f"{clone / expected}: not found; {clone} should be a clone of the authors' "
                                        f"repository ({'zjunlp/HVPNeT' if clone == hvpnet_root else 'RecklessRonan/MuSE'})")
        self._shim_transformers()
        self.hvpnet = self._import_package(hvpnet_root, "models")
        self.hvpnet_labels = len(self._load(hvpnet_root / "processor" / "dataset.py", "reference_hvpnet_data",
                                            hvpnet_root).MMPNERProcessor.get_label_mapping(None))
        self._import_or_stub("spacy.lang.en", English=lambda: None)
        self._import_or_stub("torch.utils.tensorboard", SummaryWriter=None)
        self.muse = self._load(muse_root / "code" / "main.py", "reference_muse_main", muse_root / "code")
        self.muse_models = sys.modules["models"]  # code/models.py, which main.py imports

    @staticmethod
    def _shim_transformers() -> None:
        import transformers.file_utils as file_utils
        import transformers.modeling_utils as modeling_utils
        import transformers.pytorch_utils as pytorch_utils

        for name in ("add_code_sample_docstrings", "add_start_docstrings", "add_start_docstrings_to_model_forward",
                     "replace_return_docstrings"):
            setattr(file_utils, name, lambda *_, **__: (lambda f: f))
        for name in ("apply_chunking_to_forward", "prune_linear_layer"):
            setattr(modeling_utils, name, getattr(modeling_utils, name, None) or getattr(pytorch_utils, name))
        if not hasattr(modeling_utils, "find_pruneable_heads_and_indices"):
            modeling_utils.find_pruneable_heads_and_indices = None  # head pruning: never called in a step
        package = sys.modules["transformers"]  # what `from transformers import` reads now (its lazy module is replaced)
        if not hasattr(package, "AdamW"):
            package.AdamW = torch.optim.AdamW

    @staticmethod
    def _import_or_stub(name: str, **attributes) -> None:
        """The module ``name`` where it imports; else an empty one holding ``attributes``, what the authors'
        code takes from it at import time (its step never calls them)."""
        try:
            importlib.import_module(name)
            return
        except ImportError:
            pass
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            sys.modules.setdefault(".".join(parts[:depth]), types.ModuleType(".".join(parts[:depth])))
        sys.modules[name].__dict__.update(attributes)

    @staticmethod
    def _import_package(root: Path, name: str) -> types.ModuleType:
        """``root/name`` as a package; its module names are then freed (MuSE's code has a ``models`` too)."""
        sys.path.insert(0, str(root))
        try:
            package = importlib.import_module(name)
        finally:
            sys.path.remove(str(root))
            for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
                sys.modules.pop(key)
        return package

    @staticmethod
    def _load(path: Path, name: str, search: Path) -> types.ModuleType:
        sys.path.insert(0, str(search))
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(search))
        return module


def random_bert(model_class):
    """HVPNeT's own BERT class (written against transformers 4's base class) with bert-base's sizes and random
    weights, initialised as transformers 4 did, with the two mask helpers transformers 5's base class dropped."""
    model_class.init_weights = lambda self: self.apply(self._init_weights)
    if not hasattr(model_class, "get_extended_attention_mask"):
        def extended_attention_mask(self, mask, input_shape=None, device=None):
            return (1.0 - mask[:, None, None, :].to(self.dtype)) * torch.finfo(self.dtype).min
        model_class.get_extended_attention_mask = extended_attention_mask
    if not hasattr(model_class, "get_head_mask"):
        model_class.get_head_mask = lambda self, head_mask, layers, *_: [None] * layers
    return model_class(transformers.BertConfig())


class ReferenceHVPNeT:
    """HMNeTNERModel as run_twitter15.sh trains it (prompt_len 4, lr 3e-5, CRF and fc at 5e-2)."""

    def __init__(self, code: ReferenceCode):
        module = code.hvpnet.bert_model
        module.resnet50 = lambda pretrained=False: torchvision.models.resnet50()  # random weights, no download
        module.BertModel.from_pretrained = classmethod(lambda cls, _: random_bert(cls))
        args = argparse.Namespace(prompt_dim=800, prompt_len=4, use_prompt=True, device="cpu", bert_name="random")
        self.model = module.HMNeTNERModel(["label"] * code.hvpnet_labels, args)
        self.labels = code.hvpnet_labels
        groups = [{"lr": 3e-5, "params": [p for n, p in self.model.named_parameters() if "bert" in n]},
                  {"lr": 3e-5, "params": [p for n, p in self.model.named_parameters()
                                          if "encoder_conv" in n or "gates" in n]},
                  {"lr": 5e-2, "params": [p for n, p in self.model.named_parameters()
                                          if "crf" in n or n.startswith("fc")]}]
        self.optimizer = torch.optim.AdamW([{**g, "weight_decay": 1e-2} for g in groups])
        for name, parameter in self.model.named_parameters():
            if "image_model" in name:
                parameter.requires_grad = False
        self.model.train()

    def inputs(self, batch: dict, generator: torch.Generator) -> dict:
        mask = padded(batch["attention_mask"], HVPNET_MAX_SEQ)
        labels = torch.randint(1, self.labels, mask.shape, generator=generator) * mask
        return {"input_ids": padded(batch["input_ids"], HVPNET_MAX_SEQ), "attention_mask": mask,
                "token_type_ids": torch.zeros_like(mask), "labels": labels,
                "images": torch.randn(BATCH, 3, 224, 224, generator=generator),
                "aux_imgs": torch.randn(BATCH, 3, 3, 224, 224, generator=generator)}

    def step(self, inputs: dict, bf16: bool = False) -> float:
        """Seconds of one training step, its forward pass under bf16 autocast with ``bf16``."""
        started = time.perf_counter()
        with forward_precision(bf16):
            loss = self.model(**inputs).loss
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        return finite_seconds(started, loss)


class ReferenceMuSE:
    """SubspaceExchangeMNER as run_t15.sh trains it, its loss as main.py's training loop computes it."""

    ARGS = dict(hidden_size=768, use_xlmr=False, skip_connection=True, use_quantile=True, cross_dropout=0.2,
                num_layers=6, replace_start=1, replace_end=3, cls_init=0, crf_dropout=0.5, text_dropout=0.0,
                image_dropout=0.0, task="twitter15", alpha=1e-3, beta=1e-3, sigma=1.0,
                max_seq_length=MUSE_MAX_SEQ, ti_crop_size=32)

    def __init__(self, code: ReferenceCode, ours: MethodStep):
        main, models = code.muse, code.muse_models
        self.main, self.models, self.ours = main, models, ours
        self.args = argparse.Namespace(**self.ARGS)
        self.labels = len(main.MNERProcessor().get_labels())
        vocabulary = ours.model.method.text_decoder.vocabulary.out_features
        with tempfile.TemporaryDirectory() as folder:  # ImageEncoder loads its ResNet-152 from a file
            resnet = Path(folder) / "resnet152.pth"
            torch.save(torchvision.models.resnet152().state_dict(), resnet)
            self.model = main.bulid_model(resnet, 512, 512, vocabulary, 512, "cpu",
                                          models.BertModel(transformers.BertConfig()), 768, 12, 0.1, self.labels,
                                          self.args)  # transformers' own BERT, as theirs imports it
        # main.py's six groups (the CRF, the classifier and the rest, each with and without weight decay) differ
        # only in decay here: run_t15.sh gives every group 5e-5
        exempt = [any(d in n for d in ("bias", "LayerNorm.weight")) for n, _ in self.model.named_parameters()]
        parameters = list(self.model.parameters())
        groups = [{"params": [p for p, e in zip(parameters, exempt) if e == skip], "weight_decay": 0.0 if skip else 0.01}
                  for skip in (False, True)]
        self.optimizer = torch.optim.AdamW(groups, lr=5e-5, eps=1e-8, foreach=False)
        self.cross_entropy = nn.CrossEntropyLoss()
        self.model.train()

    def inputs(self, batch: dict, generator: torch.Generator) -> dict:
        mask = padded(batch["attention_mask"], MUSE_MAX_SEQ)
        sentences = [example.words for example in batch["examples"]]
        caption, caption_mask = self.ours.model.method.text_decoder.captions(sentences, MUSE_MAX_SEQ)
        return {"text_input_ids": padded(batch["input_ids"], MUSE_MAX_SEQ), "attention_mask": mask,
                "token_type_ids": torch.zeros_like(mask),
                "labels": torch.randint(0, self.labels, mask.shape, generator=generator) * mask,
                "image_raw": torch.randn(BATCH, 3, 224, 224, generator=generator),
                "image_decode": torch.rand(BATCH, 3, 32, 32, generator=generator) * 2 - 1,
                "caption": padded(caption, MUSE_MAX_SEQ), "length": caption_mask.sum(1, keepdim=True)}

    def step(self, inputs: dict, bf16: bool = False) -> float:
        """Seconds of one training step, its forward pass and losses under bf16 autocast with ``bf16``."""
        started = time.perf_counter()
        with forward_precision(bf16), numpy_takes_bf16():  # their exchange takes quantiles in numpy
            image_generate, predictions, captions, lengths, alphas, _, outputs, _ = self.model(**inputs)
            with on_cpu_cuda_is_identity():  # the mixture loss puts a constant of zeros on CUDA unconditionally
                loss_ti = self.models.discretized_mix_logistic_loss(inputs["image_decode"], image_generate)
            loss = self.main.calculate_multi_loss(
                loss_it=self.models.LOSS_IT(predictions, alphas, captions, lengths, self.cross_entropy),
                loss_ti=loss_ti, loss_task=outputs[0], args=self.args)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.model.zero_grad()
        return finite_seconds(started, loss)


@contextlib.contextmanager
def on_cpu_cuda_is_identity():
    """``Tensor.cuda()`` returns the tensor itself while the authors' CUDA-only line runs on CPU."""
    cuda = torch.Tensor.cuda
    torch.Tensor.cuda = lambda tensor, *_, **__: tensor
    try:
        yield
    finally:
        torch.Tensor.cuda = cuda


@contextlib.contextmanager
def numpy_takes_bf16():
    """``Tensor.numpy()`` gives a bf16 tensor's values in float32 (numpy has no bf16), for the authors' code under
    bf16 autocast; other tensors as before."""
    numpy = torch.Tensor.numpy
    torch.Tensor.numpy = lambda tensor, *args, **kwargs: numpy(
        tensor.float() if tensor.dtype == torch.bfloat16 else tensor, *args, **kwargs)
    try:
        yield
    finally:
        torch.Tensor.numpy = numpy


def finite_seconds(started: float, loss: torch.Tensor) -> float:
    """Seconds since ``started``; a step whose loss is not finite is no measurement."""
    seconds = time.perf_counter() - started
    if not torch.isfinite(loss):
        raise RuntimeError(f"the authors' step: the loss is {loss.item()}")
    return seconds


def gflop(step, *args) -> float:
    """The GFLOP of one call ``step(*args)`` that ``FlopCounterMode`` counts: matrix products, convolutions, attention
    (not the elementwise work, nor the optimiser's)."""
    with FlopCounterMode(display=False) as counter:
        step(*args)
    return counter.get_total_flops() / 1e9


def measure(fusion: str, code: ReferenceCode, root: Path, count: int) -> dict:
    data = real_data(root)
    ours = MethodStep(fusion, data)
    reference = ReferenceHVPNeT(code) if fusion == "hvpnet" else ReferenceMuSE(code, ours)
    generator = torch.Generator().manual_seed(0)
    batches = real_batches(ours, count + 1)
    theirs = [reference.inputs(batch, generator) for batch in batches]
    sides = {"ours": lambda i: ours.seconds("fp32", batches[i]),
             "ours bf16-mixed": lambda i: ours.seconds("bf16-mixed", batches[i]),
             "reference": lambda i: reference.step(theirs[i]),
             "reference bf16-mixed": lambda i: reference.step(theirs[i], bf16=True)}
    if fusion in FROZEN_CNN_EVERY_STEP:  # ours computing what the authors' computes: the frozen CNN at every step
        uncached = MethodStep(fusion, data + FROZEN_CNN_EVERY_STEP[fusion])
        pixels = real_batches(uncached, count + 1)
        if any(not torch.equal(a["input_ids"], b["input_ids"]) for a, b in zip(batches, pixels)):
            raise RuntimeError(f"{fusion}: the batches without the feature cache hold other sentences")
        sides[UNCACHED] = lambda i: uncached.seconds("fp32", pixels[i])
    for step in sides.values():  # warm-up: first-step allocations, lazy initialisation
        step(0)
    seconds = {name: [] for name in sides}
    for index in range(1, len(batches)):
        for name in rotated(list(sides), index - 1):
            seconds[name].append(sides[name](index))
    counted = range(1, min(len(batches), 1 + COUNTED_BATCHES))
    return {"fusion": fusion, "config": f"experiment={fusion}_{DATASET}", "pairs": len(batches) - 1,
            "seconds": seconds, "ratios": per_batch_ratios(seconds),
            "gflop": {name: [gflop(sides[name], index) for index in counted] for name in ("reference", "ours")}}


def per_batch_ratios(seconds: dict[str, list[float]]) -> dict[str, list[float]]:
    """Each of ``RATIOS`` whose sides were measured: the authors' seconds over ours, batch by batch."""
    return {name: [t / o for t, o in zip(seconds[theirs], seconds[ours], strict=True)]
            for name, (theirs, ours) in RATIOS.items() if ours in seconds}


def main(hvpnet_root: Path, muse_root: Path, batches: int = 12) -> dict:
    root = data_root()
    if root is None:
        raise SystemExit(f"no {DATASET}/train.txt under $FUSIONLAB_DATA or ../shared/data: nothing to measure")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    retain_freed_memory()
    code = ReferenceCode(hvpnet_root, muse_root)
    return {"dataset": DATASET, "batch_size": BATCH, "threads": 1,
            "commits": {"hvpnet": commit(hvpnet_root), "muse": commit(muse_root)}, "bf16_units": bf16_units(),
            "methods": [measure(fusion, code, root, batches) for fusion in ("hvpnet", "muse")]}


def commit(clone: Path) -> str:
    """The commit a clone is at, which the figures depend on."""
    version = code_version(clone)
    if version["commit"] is None:
        return "unknown (not a git clone)"
    return version["commit"][:7] + (" (modified)" if version["dirty"] else "")


def median_interval(values: list[float], level: float = 0.95) -> tuple[float, float] | None:
    """The ``level`` percentile-bootstrap interval of the median of ``values`` (scipy; batches resampled, a fixed
    seed), or None for fewer than two values."""
    if len(values) < 2:
        return None
    found = stats.bootstrap((np.asarray(values),), np.median, confidence_level=level, n_resamples=RESAMPLES,
                            method="percentile", random_state=0)
    return float(found.confidence_interval.low), float(found.confidence_interval.high)


def markdown(result: dict) -> list[str]:
    def ratio(values: list[float]) -> str:
        interval = median_interval(values)
        shown = "[-]" if interval is None else f"[{interval[0]:.2f}, {interval[1]:.2f}]"
        return f"{statistics.median(values):.2f}x {shown} ({min(values):.2f} / {max(values):.2f})"

    columns = (("ours", "ours"), (UNCACHED, UNCACHED), ("ours bf16-mixed", "ours bf16-mixed"),
               ("reference bf16-mixed", "both bf16-mixed"))  # (the seconds shown, the ratio beside them)
    def work(gflop: dict[str, list[float]]) -> list[str]:
        theirs, ours = (statistics.mean(gflop[side]) for side in ("reference", "ours"))
        return [f"{theirs:.0f}", f"{ours:.0f}", f"{theirs / ours:.2f}x"]

    rows = [[m["fusion"], m["config"], m["pairs"], f"{statistics.median(m['seconds']['reference']):.2f}",
             *[cell for side, name in columns for cell in (
                 (f"{statistics.median(m['seconds'][side]):.2f}", ratio(m["ratios"][name])) if name in m["ratios"]
                 else ("-", "-"))], *work(m["gflop"])]
            for m in result["methods"]]
    return [
        "## Against the authors' code (CPU)", "",
        f"{versions(f'CPU ({os.cpu_count()} cores)', by='make bench-reference')} "
        f"The authors' code: zjunlp/HVPNeT at {result['commits']['hvpnet']}, "
        f"RecklessRonan/MuSE at {result['commits']['muse']}. bf16 units: {result['bf16_units']}.", "",
        "One training step of each method beside the authors' own, read from clones of their repositories, on the "
        "same real Twitter-2015 batches, taking turns to go first: batch 8, 1 thread, random weights at the papers' "
        "sizes. Theirs pads every sentence to its max_seq (80, 64), runs HVPNeT's frozen ResNet-50 on the image and "
        "its three crops at every step, and MuSE's ResNet-152 as ours does. Ours is the paper config's optimised "
        "step in fp32 (the same arithmetic as theirs) and under bf16-mixed (other arithmetic: docs/guide.md, speed), "
        "with HVPNeT's frozen ResNet-50 cached, as training caches it; and in fp32 with that ResNet-50 run on the "
        "image and its crops at every step, as theirs runs it (`data.feature_cache=false`). Theirs runs once more "
        "under bf16-mixed too (the same CPU autocast around their forward pass and losses; their scripts run fp32), "
        "so that the last ratio compares the two in the same arithmetic. What the benchmark "
        "changes in their code to run it on transformers 5 and a CPU, and why: `benchmarks/against_reference.py`.", "",
        tabulate(rows, ["fusion", "ours", "batches", "authors': s / step", "ours fp32: s / step",
                        "authors' over ours fp32 [95% interval] (min / max)",
                        "ours fp32, frozen CNN every step: s / step",
                        "authors' over that [95% interval] (min / max)", "ours bf16-mixed: s / step",
                        "authors' over ours bf16-mixed [95% interval] (min / max)", "authors' bf16-mixed: s / step",
                        "authors' bf16-mixed over ours bf16-mixed [95% interval] (min / max)", "authors': GFLOP / step",
                        "ours fp32: GFLOP / step", "authors' GFLOP over ours"],
                 tablefmt="github", disable_numparse=True), "",
        "Seconds are medians over the batches; each ratio is the median of the per-batch ratios, in brackets the 95% "
        f"percentile-bootstrap interval of that median (the batches resampled {RESAMPLES} times): a ratio is shown to "
        "reach a value only where the interval's lower end does. GFLOP are what "
        "`FlopCounterMode` counts in one fp32 step (matrix products, convolutions, attention; not the elementwise "
        f"work or the optimiser), the mean over the first {COUNTED_BATCHES} batches, each counted in a step of its "
        "own: unlike the seconds, they do not depend on the machine's load, and their ratio is the speed-up the "
        "work removed alone would give.", "",
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("hvpnet", type=Path, help="a clone of github.com/zjunlp/HVPNeT")
    parser.add_argument("muse", type=Path, help="a clone of github.com/RecklessRonan/MuSE")
    parser.add_argument("batches", type=int, nargs="?", default=12, help="timed batches (default 12)")
    options = parser.parse_args()
    outcome = main(options.hvpnet, options.muse, options.batches)
    print(json.dumps(outcome), file=sys.stderr)
    print(write_section("reference", markdown(outcome)))
