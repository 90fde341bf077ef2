"""1 x 1 convolutions on channels-last inputs run as matrix products (``encoders/layout.PointwiseConv2d``):
the same values and gradients as PyTorch's convolution, and no convolution of the vision encoders or of MuSE's
PixelCNN++ left on PyTorch's slow reference kernel on one CPU thread."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torch.profiler import profile

from fusionlab.encoders.layout import CONVOLUTION_LAYOUT, PointwiseConv2d, is_pointwise, pointwise, set_memory_format
from fusionlab.encoders.vision import vision_encoder
from fusionlab.fusion.muse.image_decoder import ConditionalPixelCNN

SLOW_KERNELS = {"aten::_slow_conv2d_forward", "aten::_slow_conv2d_backward"}


@pytest.fixture
def one_thread():
    """PyTorch picks its slow kernel for 1 x 1 convolutions on one thread (at a batch under 16)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def conv_and_gradients(conv: nn.Conv2d, x: torch.Tensor, grad: torch.Tensor) -> list[torch.Tensor]:
    x = x.detach().requires_grad_()
    conv.zero_grad(set_to_none=True)
    output = conv(x)
    output.backward(grad)
    return [output, x.grad, conv.weight.grad, conv.bias.grad]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_channels_last_input_gives_the_convolution_s_values_and_gradients(dtype):
    torch.manual_seed(0)
    conv = nn.Conv2d(24, 40, 1).to(dtype)
    x = torch.randn(3, 24, 5, 7, dtype=dtype).contiguous(memory_format=torch.channels_last)
    grad = torch.randn(3, 40, 5, 7, dtype=dtype)
    expected = conv_and_gradients(conv, x, grad)
    swapped = pointwise(conv)
    assert type(swapped) is PointwiseConv2d and swapped.weight is conv.weight and swapped.bias is conv.bias
    assert swapped.state_dict().keys() == conv.state_dict().keys()  # checkpoints load either way
    got = conv_and_gradients(swapped, x, grad)
    assert got[0].is_contiguous(memory_format=torch.channels_last)  # the layout carries on to the next layer
    tolerance = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-12}
    for name, a, b in zip(("output", "input grad", "weight grad", "bias grad"), got, expected):
        torch.testing.assert_close(a, b, **tolerance, msg=name)


def test_the_matrix_product_runs_only_on_a_channels_last_cpu_input(one_thread):
    conv = PointwiseConv2d(8, 4)
    for x, product in ((torch.randn(2, 8, 6, 6).contiguous(memory_format=torch.channels_last), True),
                       (torch.randn(2, 8, 6, 6), False)):
        with profile() as profiler:
            conv(x)
        names = {event.name for event in profiler.events()}
        assert ("aten::linear" in names) == product and ("aten::convolution" in names) == (not product)


def test_under_bf16_autocast_it_computes_in_bf16_like_the_convolution():
    torch.manual_seed(0)
    conv = nn.Conv2d(32, 16, 1)
    x = torch.randn(2, 32, 4, 4).contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", torch.bfloat16):
        expected, got = conv(x), pointwise(conv)(x)
    assert got.dtype == expected.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), expected.float(), rtol=2 ** -7, atol=2 ** -7 * expected.abs().max().item())


def test_only_plain_1x1_stride_1_convolutions_are_swapped_and_the_weights_keep_their_names():
    encoder = vision_encoder("resnet50_random", freeze=False)
    reference = torchvision.models.resnet50()
    convolutions = [m for m in encoder.modules() if isinstance(m, nn.Conv2d)]
    swapped = [m for m in convolutions if type(m) is PointwiseConv2d]
    pointwise_in_resnet = [m for m in reference.modules() if isinstance(m, nn.Conv2d)
                           and m.kernel_size == (1, 1) and m.stride == (1, 1)]
    assert len(swapped) == len(pointwise_in_resnet) == 33  # the downsampling 1 x 1 ones have stride 2
    assert all(m.kernel_size == (1, 1) and m.stride == (1, 1) for m in swapped)
    assert [p.shape for p in encoder.parameters()] == [p.shape for name, p in reference.named_parameters()
                                                       if not name.startswith("fc.")]


def test_a_resnet_computes_what_it_computed_on_pytorch_s_kernels():
    """ResNet-50 (33 pointwise convolutions) in float64, where summation orders agree to ~1e-12: its features and
    every gradient in channels-last (matrix products) and in the default layout (PyTorch's convolutions)."""
    torch.manual_seed(0)
    encoder = vision_encoder("resnet50_random", freeze=False).double().train()
    images = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    runs = []
    for layout in (CONVOLUTION_LAYOUT, torch.contiguous_format):
        set_memory_format(encoder, layout)
        encoder.zero_grad(set_to_none=True)
        features = encoder(images)
        sum(f.sum() for f in features.values()).backward()
        runs.append((features, {name: p.grad.clone() for name, p in encoder.named_parameters()}))
    (features, gradients), (before_features, before_gradients) = runs
    for key in features:
        torch.testing.assert_close(features[key], before_features[key], rtol=1e-9, atol=1e-12)
    assert gradients.keys() == before_gradients.keys()
    for name in gradients:  # as a whole: BatchNorm's gradients hold entries that cancel to rounding noise
        difference = (gradients[name] - before_gradients[name]).norm() / before_gradients[name].norm()
        assert difference < 1e-9, name


def backward_kernels(model: nn.Module, *inputs) -> set[str]:
    """The convolution kernels one forward and backward pass of ``model`` runs."""
    with profile() as profiler:
        output = model(*inputs)
        sum(o.float().sum() for o in (output.values() if isinstance(output, dict) else [output])).backward()
    return {event.name for event in profiler.events() if "conv" in event.name}


@pytest.mark.parametrize("name", ["resnet50_random", "effnet_lite0"])
def test_no_vision_encoder_convolution_falls_to_the_slow_kernel(one_thread, name):
    encoder = vision_encoder(name, freeze=False).train()
    images = torch.randn(2, 3, 64, 64)
    assert not backward_kernels(encoder, images) & SLOW_KERNELS
    set_memory_format(encoder, torch.contiguous_format)  # PyTorch's own path: the slow kernel, which is avoided
    assert backward_kernels(encoder, images) >= SLOW_KERNELS


def test_no_pixelcnn_convolution_falls_to_the_slow_kernel(one_thread):
    torch.manual_seed(0)
    decoder = ConditionalPixelCNN(condition_dim=4, filters=8, blocks=1, components=2, dropout=0.0)
    assert decoder.memory_format == CONVOLUTION_LAYOUT
    skips = 3 + 5 + 5  # one per block of up_ul, down_u and down_ul (1 block per level, 2 in the down pass's last two)
    assert sum(isinstance(m, PointwiseConv2d) for m in decoder.modules()) == skips + 1  # and the output
    pixels, condition = torch.rand(2, 3, 8, 8) * 2 - 1, torch.randn(2, 4)
    assert not backward_kernels(decoder, pixels, condition) & SLOW_KERNELS
    set_memory_format(decoder, torch.contiguous_format)
    assert backward_kernels(decoder, pixels, condition) >= SLOW_KERNELS


def test_an_unpadded_1x1_convolution_is_all_that_counts_as_pointwise():
    assert is_pointwise(nn.Conv2d(4, 4, 1))
    for conv in (nn.Conv2d(4, 4, 1, stride=2), nn.Conv2d(4, 4, 3), nn.Conv2d(4, 4, 1, padding=1),
                 nn.Conv2d(4, 4, 1, groups=2), nn.Conv2d(4, 4, 1, dilation=2), nn.Conv2d(4, 4, (1, 3))):
        assert not is_pointwise(conv)
