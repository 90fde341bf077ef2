"""The memory layout convolutional modules run in.

Channels-last (NHWC) is where oneDNN (CPU) and cuDNN (GPU) keep their fast convolutions. A module that
convolves calls ``run_in_layout(self)`` at the end of its construction (it declares ``memory_format`` and makes
its 1 x 1 convolutions ``PointwiseConv2d``) and converts its input in ``forward``; the values are the same to
float rounding. ``set_memory_format`` switches a whole model (the tests compare both layouts).

A convolution runs channels-last when its input is. Its weight is stored channels-last too, so that it is not
converted at every call, unless weight normalisation computes it (PixelCNN++): then the stored v stays in the
default layout, whose norm is cheaper to take, and the fused AdamW, which copies a channels-last tensor in and
out at every step, updates it in place.

A 1 x 1, stride-1 convolution is a matrix product over the channels. On one CPU thread and a batch under 16,
PyTorch sends it to its reference kernel (``_slow_conv2d``, which loops over the images and zero-fills its
gradients) in either layout; a channels-last input is already the [N * H * W, C_in] matrix, so
``PointwiseConv2d`` multiplies it as one (``F.linear``), forward and backward.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize

from fusionlab.encoders.swap import swap_modules

CONVOLUTION_LAYOUT = torch.channels_last


class PointwiseConv2d(nn.Conv2d):
    """A 1 x 1, stride-1, unpadded, ungrouped convolution; on a channels-last CPU input it runs as the matrix
    product it is, elsewhere as ``nn.Conv2d``."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True, **factory):
        super().__init__(in_channels, out_channels, 1, bias=bias, **factory)

    def _conv_forward(self, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if input.device.type != "cpu" or not input.is_contiguous(memory_format=torch.channels_last):
            return super()._conv_forward(input, weight, bias)
        return F.linear(input.permute(0, 2, 3, 1), weight.flatten(1), bias).permute(0, 3, 1, 2)


def memory_format_of(x: torch.Tensor) -> torch.memory_format:
    """The layout ``x``'s strides follow, a view into a larger tensor's too: channels-last when the channels
    of a 4-D tensor are its innermost dimension."""
    return torch.channels_last if x.dim() == 4 and x.stride(1) == 1 and x.size(1) > 1 else torch.contiguous_format


def is_pointwise(conv: nn.Conv2d) -> bool:
    """Whether ``conv`` computes what ``PointwiseConv2d`` does."""
    ones = all(tuple(getattr(conv, name)) == (1, 1) for name in ("kernel_size", "stride", "dilation"))
    return ones and tuple(conv.padding) == (0, 0) and conv.groups == 1


def pointwise(conv: nn.Conv2d) -> PointwiseConv2d:
    """``conv`` as a ``PointwiseConv2d`` holding the same parameters."""
    swapped = PointwiseConv2d(conv.in_channels, conv.out_channels, bias=conv.bias is not None, device="meta")
    swapped.weight, swapped.bias = conv.weight, conv.bias
    return swapped.train(conv.training)


def use_pointwise_convolutions(module: nn.Module, kinds: tuple[type, ...] = (nn.Conv2d,)) -> None:
    """Make every 1 x 1 convolution in ``module`` whose class is one of ``kinds`` (exactly: a subclass may
    compute more) a ``PointwiseConv2d``."""
    swap_modules(module, lambda child: pointwise(child) if type(child) in kinds and is_pointwise(child) else None)


def run_in_layout(module: nn.Module, memory_format: torch.memory_format = CONVOLUTION_LAYOUT) -> None:
    """Make ``module``'s plain 1 x 1 convolutions ``PointwiseConv2d`` (a weight-normed one is built as one),
    declare its ``memory_format``, the layout its ``forward`` gives its input, and store its convolution weights
    in it (weight-normed ones apart: see above)."""
    use_pointwise_convolutions(module)
    _convert(module, memory_format)


def _convert(module: nn.Module, memory_format: torch.memory_format) -> None:
    module.memory_format = memory_format
    for convolution in module.modules():
        if isinstance(convolution, (nn.Conv2d, nn.ConvTranspose2d)) and not parametrize.is_parametrized(convolution):
            convolution.to(memory_format=memory_format)


def set_memory_format(model: nn.Module, memory_format: torch.memory_format) -> nn.Module:
    """Run every module of ``model`` that declares a ``memory_format`` in ``memory_format``."""
    for module in model.modules():
        if hasattr(module, "memory_format"):
            _convert(module, memory_format)
    return model
