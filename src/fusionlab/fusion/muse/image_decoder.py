"""MuSE's ImageDecoder (Eq. 5): a text-conditioned PixelCNN++ (Salimans et al., 2017).

The network follows PixelCNN++: two causal streams, ``u`` (down-shifted convolutions: the
rows above) and ``ul`` (down-right-shifted: above and to the left); gated ResNet blocks with
concatenated ELU (``ExpElu``), h-conditioning and dropout (of whole channels, as MuSE's reference; PixelCNN++'s
TensorFlow code drops elements); an up pass over three resolutions with strided causal convolutions
and a down pass with transposed ones and skip connections from the up pass; a discretised logistic mixture output (``logistic_mixture.py``). The condition
is the text: the masked mean of T_n, projected into every gated block (Eq. 5). Weight
normalisation as in the paper; channels-last layout (``fusionlab.encoders.layout``). Sizes (filters,
blocks per resolution, mixture components) come from the config so that tests run a tiny one.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm

from fusionlab.encoders.layout import PointwiseConv2d, memory_format_of, run_in_layout
from fusionlab.fusion.muse.logistic_mixture import log_likelihood, sample


class ExpElu(torch.autograd.Function):
    """ELU as max(x, exp(min(x, 0)) - 1), which it equals since exp(x) - 1 >= x: PyTorch's CPU ELU evaluates
    expm1, several times slower than this vectorised exp. The two differ by at most one rounding of 1 (~6e-8
    in float32); the backward pass is PyTorch's own ELU one (from the output)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        output = torch.maximum(x, torch.exp(x.clamp(max=0)).sub_(1))
        ctx.save_for_backward(output)
        return output

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (output,) = ctx.saved_tensors
        return torch.ops.aten.elu_backward(grad, 1.0, 1.0, 1.0, True, output)


def elu(x: torch.Tensor) -> torch.Tensor:
    return ExpElu.apply(x)


class ConcatElu(torch.autograd.Function):
    """PixelCNN++'s concatenated ELU, ELU([x; -x]) over channels, with one exp for both halves: t = exp(-|x|) - 1
    gives ELU(x) = max(x, t) and ELU(-x) = max(-x, t), ``ExpElu``'s form. The halves are written into the output,
    no [x; -x] is built; the backward pass is PyTorch's ELU one (from the output), the halves' gradients then
    subtracted."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        t = torch.exp(x.abs().neg_()).sub_(1)
        if torch.compiler.is_compiling():  # torch.compile traces no writes into an output's views: concatenated
            output = torch.cat([torch.maximum(x, t), torch.maximum(x.neg(), t)], dim=1)
        else:
            channels = x.size(1)
            output = torch.empty((x.size(0), 2 * channels, *x.shape[2:]), dtype=x.dtype, device=x.device,
                                 memory_format=memory_format_of(x))
            torch.maximum(x, t, out=output[:, :channels])
            torch.maximum(x.neg(), t, out=output[:, channels:])
        ctx.save_for_backward(output)
        return output

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (output,) = ctx.saved_tensors
        halves = torch.ops.aten.elu_backward(grad, 1.0, 1.0, 1.0, True, output).chunk(2, dim=1)
        return halves[0] - halves[1]


def concat_elu(x: torch.Tensor) -> torch.Tensor:
    return ConcatElu.apply(x)


def down_shift(x: torch.Tensor) -> torch.Tensor:
    return F.pad(x[:, :, :-1], (0, 0, 1, 0))


def right_shift(x: torch.Tensor) -> torch.Tensor:
    return F.pad(x[..., :-1], (1, 0, 0, 0))


class DownShiftedConv(nn.Module):
    """Sees only rows above (and the row itself within the kernel's lower edge): pad left/right/top."""

    def __init__(self, cin: int, cout: int, kernel=(2, 3), stride=1):
        super().__init__()
        self.pad = ((kernel[1] - 1) // 2, (kernel[1] - 1) // 2, kernel[0] - 1, 0)
        self.conv = weight_norm(nn.Conv2d(cin, cout, kernel, stride))

    def forward(self, x):
        return self.conv(F.pad(x, self.pad))


class DownRightShiftedConv(nn.Module):
    """Sees only rows above and columns to the left: pad left and top."""

    def __init__(self, cin: int, cout: int, kernel=(2, 2), stride=1):
        super().__init__()
        self.pad = (kernel[1] - 1, 0, kernel[0] - 1, 0)
        self.conv = weight_norm(nn.Conv2d(cin, cout, kernel, stride))

    def forward(self, x):
        return self.conv(F.pad(x, self.pad))


class ShiftedDeconv(nn.Module):
    """Stride-2 transposed convolution cropped back to causality: down-shifted (kernel 2 x 3, centred
    columns) or down-right-shifted (kernel 2 x 2, columns to the left)."""

    def __init__(self, cin: int, cout: int, right: bool):
        super().__init__()
        self.kernel, self.right = ((2, 2) if right else (2, 3)), right
        self.deconv = weight_norm(nn.ConvTranspose2d(cin, cout, self.kernel, stride=2, output_padding=1))

    def forward(self, x):
        x = self.deconv(x)
        height, width = x.size(2) - self.kernel[0] + 1, x.size(3)
        if self.right:
            return x[:, :, :height, : width - self.kernel[1] + 1]
        side = (self.kernel[1] - 1) // 2
        return x[:, :, :height, side: width - side]


class GatedResnet(nn.Module):
    """x + a * sigmoid(b), [a; b] = conv(concat_elu(conv(concat_elu(x)) + nin(skip))) + W h."""

    def __init__(self, filters: int, conv: type, condition_dim: int, skips: int = 0, dropout: float = 0.5):
        super().__init__()
        self.first = conv(2 * filters, filters)
        self.skip = weight_norm(PointwiseConv2d(2 * skips * filters, filters)) if skips else None
        self.dropout = nn.Dropout2d(dropout)  # the reference's gated_resnet: channel masks [B, 2F, 1, 1]
        self.second = conv(2 * filters, 2 * filters)
        self.condition = nn.Linear(condition_dim, 2 * filters, bias=False)

    def forward(self, x, condition, skip=None):
        hidden = self.first(concat_elu(x))
        if skip is not None:
            hidden = hidden + self.skip(concat_elu(skip))
        hidden = self.second(self.dropout(concat_elu(hidden))) + self.condition(condition)[:, :, None, None]
        a, b = hidden.chunk(2, dim=1)
        return x + a * torch.sigmoid(b)


class ConditionalPixelCNN(nn.Module):
    """p(image | condition) over [B, 3, S, S] pixels in [-1, 1]; S divisible by 4."""

    def __init__(self, condition_dim: int, filters: int, blocks: int, components: int, dropout: float):
        super().__init__()
        def levels(conv: type, skips: int, sizes: tuple[int, ...]) -> nn.ModuleList:
            return nn.ModuleList(nn.ModuleList(GatedResnet(filters, conv, condition_dim, skips, dropout)
                                               for _ in range(size)) for size in sizes)

        self.u_start = DownShiftedConv(4, filters, (2, 3))
        self.ul_start_down = DownShiftedConv(4, filters, (1, 3))
        self.ul_start_right = DownRightShiftedConv(4, filters, (2, 1))
        self.up_u = levels(DownShiftedConv, 0, (blocks,) * 3)
        self.up_ul = levels(DownRightShiftedConv, 1, (blocks,) * 3)
        self.down_u = levels(DownShiftedConv, 1, (blocks, blocks + 1, blocks + 1))
        self.down_ul = levels(DownRightShiftedConv, 2, (blocks, blocks + 1, blocks + 1))
        self.downsample_u = nn.ModuleList(DownShiftedConv(filters, filters, (2, 3), stride=2) for _ in range(2))
        self.downsample_ul = nn.ModuleList(DownRightShiftedConv(filters, filters, (2, 2), stride=2) for _ in range(2))
        self.upsample_u = nn.ModuleList(ShiftedDeconv(filters, filters, right=False) for _ in range(2))
        self.upsample_ul = nn.ModuleList(ShiftedDeconv(filters, filters, right=True) for _ in range(2))
        self.output = weight_norm(PointwiseConv2d(filters, 10 * components))
        run_in_layout(self)

    def forward(self, pixels: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Mixture parameters [B, 10K, S, S]; position (i, j) sees only pixels before it in raster order."""
        x = F.pad(pixels, (0, 0, 0, 0, 0, 1), value=1.0)  # a channel of ones marks the image's extent
        x = x.contiguous(memory_format=self.memory_format)
        u = [down_shift(self.u_start(x))]
        ul = [down_shift(self.ul_start_down(x)) + right_shift(self.ul_start_right(x))]
        for level in range(3):
            for block_u, block_ul in zip(self.up_u[level], self.up_ul[level]):
                u.append(block_u(u[-1], condition))
                ul.append(block_ul(ul[-1], condition, u[-1]))
            if level < 2:
                u.append(self.downsample_u[level](u[-1]))
                ul.append(self.downsample_ul[level](ul[-1]))
        top_u, top_ul = u.pop(), ul.pop()
        for level in range(3):
            for block_u, block_ul in zip(self.down_u[level], self.down_ul[level]):
                top_u = block_u(top_u, condition, u.pop())
                top_ul = block_ul(top_ul, condition, torch.cat([top_u, ul.pop()], dim=1))
            if level < 2:
                top_u, top_ul = self.upsample_u[level](top_u), self.upsample_ul[level](top_ul)
        return self.output(elu(top_ul))

    def nll(self, pixels: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """-log p(image | condition) per image [B] in nats."""
        return -log_likelihood(self(pixels, condition), pixels)

    @torch.no_grad()
    def generate(self, condition: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Ancestral sampling in raster order: [B, 3, size, size] on the 256-level grid."""
        image = torch.zeros(condition.size(0), 3, size, size, device=condition.device)
        for row in range(size):
            for column in range(size):
                drawn = sample(self(image, condition)[:, :, row:row + 1, column:column + 1], generator)
                image[:, :, row, column] = drawn[:, :, 0, 0]
        return image
