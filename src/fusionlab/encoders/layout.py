"""The memory layout convolutional modules run in.

Channels-last (NHWC) is where oneDNN (CPU) and cuDNN (GPU) keep their fast convolutions; in PyTorch's default
layout some convolutions (1 x 1 ones on one CPU thread, for instance) fall to slow reference kernels. A module
that convolves calls ``run_in_layout(self)`` at the end of its construction (it declares ``memory_format`` and
converts the weights once) and converts its input in ``forward``; the values are the same to float rounding.
``set_memory_format`` switches a whole model (the tests compare both layouts).
"""

from __future__ import annotations

import torch
from torch import nn

CONVOLUTION_LAYOUT = torch.channels_last


def run_in_layout(module: nn.Module, memory_format: torch.memory_format = CONVOLUTION_LAYOUT) -> None:
    """Declare ``module``'s ``memory_format`` and convert its weights to it."""
    module.memory_format = memory_format
    module.to(memory_format=memory_format)


def set_memory_format(model: nn.Module, memory_format: torch.memory_format) -> nn.Module:
    """Run every module of ``model`` that declares a ``memory_format`` in ``memory_format``."""
    for module in model.modules():
        if hasattr(module, "memory_format"):
            run_in_layout(module, memory_format)
    return model
