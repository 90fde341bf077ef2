"""Speed settings of a run (the ``performance`` config): ``torch.compile``, the float32 matmul precision,
keeping freed memory for the next step (``fusionlab.run.freed_memory``) and drawing dropout masks from random
bits on CPU (``fusionlab.encoders.dropout``).

Mixed precision and gradient accumulation are Lightning's (``trainer.precision``,
``trainer.accumulate_grad_batches``); gradient checkpointing is the text encoder's
(``encoder.text.gradient_checkpointing``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import nn

from fusionlab.encoders.dropout import use_random_bits_dropout
from fusionlab.encoders.text import TextEncoder
from fusionlab.fusion.base import FusionMethod
from fusionlab.run import freed_memory

MATMUL_PRECISIONS = ("highest", "high", "medium")


def compile_targets(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """The submodules to compile: every child holding parameters, looking inside the ones that are not
    called as a whole or should not be compiled whole (containers, fusion methods and a base method inside one,
    and a ``TextEncoder``, whose token packing is data-dependent: its Hugging Face model is compiled), each
    module once."""
    seen: set[int] = set()

    def walk(parent: nn.Module, path: str) -> Iterator[tuple[str, nn.Module]]:
        for name, child in parent.named_children():
            if id(child) in seen or next(child.parameters(), None) is None:
                continue
            seen.add(id(child))
            if isinstance(child, (nn.ModuleList, nn.ModuleDict, FusionMethod, TextEncoder)):
                yield from walk(child, f"{path}{name}.")
            else:
                yield f"{path}{name}", child

    return walk(model, "")


def compile_submodules(model: nn.Module, backend: str | Callable = "inductor", mode: str | None = None) -> list[str]:
    """``nn.Module.compile`` each of ``compile_targets(model)`` in place: no wrapper module is added, so
    parameter names and checkpoint keys stay as they are. Returns the names compiled."""
    names = []
    for name, module in compile_targets(model):
        module.compile(backend=backend, mode=mode)
        names.append(name)
    return names


def apply_performance(model: nn.Module, compile: bool = False, compile_backend: str | Callable = "inductor",
                      compile_mode: str | None = None, matmul_precision: str = "highest",
                      retain_freed_memory: bool = True, random_bits_dropout: bool = True) -> None:
    """Set the float32 matmul precision, keep freed memory for reuse (``retain_freed_memory``), have ``model``
    draw its dropout masks from random bits or as PyTorch does (``random_bits_dropout``) and, if ``compile``,
    compile the model's submodules."""
    if matmul_precision not in MATMUL_PRECISIONS:
        raise ValueError(f"performance.matmul_precision={matmul_precision!r}: choose one of {MATMUL_PRECISIONS}")
    torch.set_float32_matmul_precision(matmul_precision)
    if retain_freed_memory:
        freed_memory.retain_freed_memory()
    use_random_bits_dropout(model, random_bits_dropout)
    if compile:
        compile_submodules(model, compile_backend, compile_mode)
