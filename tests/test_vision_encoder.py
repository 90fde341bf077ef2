"""Vision encoder options: which torchvision ImageNet weights a ResNet loads (checked without a download)
and which backbone stages train when the encoder is not frozen."""

from __future__ import annotations

import pytest
import torch
import torchvision
from hydra.utils import instantiate
from torch import nn

from fusionlab.encoders import vision
from fusionlab.encoders.vision import vision_encoder
from tests.conftest import compose_config


@pytest.fixture
def requested(monkeypatch):
    """Replaces torchvision's ResNet builders by one that records the weights it is asked for."""
    asked = []

    def builder(weights=None):
        asked.append(weights)
        net = nn.Module()
        for part in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            setattr(net, part, nn.Identity())
        return net

    monkeypatch.setattr(torchvision.models, "resnet50", builder)
    monkeypatch.setattr(torchvision.models, "resnet152", builder)
    monkeypatch.setattr(vision, "is_offline_mode", lambda: False)  # nothing is fetched: the builder is fake
    return asked


@pytest.mark.parametrize("name, weights, expected", [
    ("resnet50", "IMAGENET1K_V1", torchvision.models.ResNet50_Weights.IMAGENET1K_V1),
    ("resnet50", "IMAGENET1K_V2", torchvision.models.ResNet50_Weights.IMAGENET1K_V2),
    ("resnet50", None, torchvision.models.ResNet50_Weights.IMAGENET1K_V2),  # unset: DEFAULT, as before
    ("resnet152", "IMAGENET1K_V1", torchvision.models.ResNet152_Weights.IMAGENET1K_V1),
    ("resnet152", "DEFAULT", torchvision.models.ResNet152_Weights.IMAGENET1K_V2),
])
def test_weights_option_requests_that_torchvision_weights_enum(requested, name, weights, expected):
    vision_encoder(name, weights=weights)
    assert requested == [expected]


@pytest.mark.parametrize("experiment", ["hvpnet_twitter2015", "hvpnet_twitter2017", "hvpnet_mnre"])
def test_hvpnet_paper_experiments_build_a_frozen_resnet50_with_v1_weights(requested, experiment):
    encoder = instantiate(compose_config([f"experiment={experiment}", "output_dir=/tmp/x"]).encoder.vision)
    assert requested == [torchvision.models.ResNet50_Weights.IMAGENET1K_V1]
    assert encoder.frozen and encoder.identity == "resnet50@IMAGENET1K_V1/pyramid2/grid8"


def test_weights_are_part_of_the_feature_cache_key_and_unset_keeps_the_old_key(requested):
    assert vision_encoder("resnet50").identity == "resnet50/pyramid2/grid8"
    assert vision_encoder("resnet50", weights="IMAGENET1K_V2").identity == "resnet50@IMAGENET1K_V2/pyramid2/grid8"
    assert vision_encoder("tiny", weights="IMAGENET1K_V1").identity == "tiny/pyramid2/grid8"  # one set only


def test_unknown_weights_are_refused():
    with pytest.raises(ValueError, match="IMAGENET1K_V1"):
        vision_encoder("tiny", weights="IMAGENET1K_V3")


def _trainable(encoder) -> list[bool]:
    """Per part (stem, stage 1..4): do all its parameters train?"""
    parts = [encoder.stem, *encoder.stages]
    flags = [{p.requires_grad for p in part.parameters()} for part in parts]
    assert all(len(f) == 1 for f in flags)
    return [f.pop() for f in flags]


def test_trainable_stages_train_only_those_stages():
    encoder = vision_encoder("tiny", freeze=False, trainable_stages=[2, 3, 4])
    assert _trainable(encoder) == [False, False, True, True, True]
    encoder(torch.randn(2, 3, 32, 32))["grid"].sum().backward()
    assert all(p.grad is None for p in [*encoder.stem.parameters(), *encoder.stages[0].parameters()])
    assert all(p.grad is not None for p in encoder.stages[1:].parameters())
    assert _trainable(vision_encoder("tiny", freeze=False)) == [True] * 5  # null: all
    assert _trainable(vision_encoder("tiny", freeze=False, trainable_stages=[0, 4])) == [True, False, False, False, True]


def test_trainable_stages_from_the_config_and_their_conflicts():
    cfg = compose_config(["encoder=tiny", "encoder.vision.trainable_stages=[2,3,4]", "output_dir=/tmp/x"])
    assert _trainable(instantiate(cfg.encoder.vision)) == [False, False, True, True, True]
    with pytest.raises(ValueError, match="frozen"):
        vision_encoder("tiny", freeze=True, trainable_stages=[2, 3, 4])
    with pytest.raises(ValueError, match="stage"):
        vision_encoder("tiny", freeze=False, trainable_stages=[5])
