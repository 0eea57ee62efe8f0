"""The CIFAR-form models of the CRD/DKD pair table (MobileNetV2, ShuffleNetV1/V2, ResNet-50):
RepDistiller's parameter counts, layouts, taps and the names they refuse."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from kdbench.build import count_parameters
from kdbench.errors import KdbenchError
from kdbench.models.cfg import model_cfg
from kdbench.models.resnet_imagenet_cifar import Bottleneck
from kdbench.models.shufflenetv1 import channel_shuffle

NEW = ["mobilenetv2-w0.5", "shufflenetv1", "shufflenetv2", "resnet50-cifar"]


@pytest.mark.parametrize(("name", "millions"), [
    ("mobilenetv2-w0.5", 0.81), ("shufflenetv1", 0.95), ("shufflenetv2", 1.36),
    ("resnet50-cifar", 23.71),
])
def test_parameter_counts_match_repdistiller_at_100_classes(build, name, millions):
    # papers-more.md "Parameter counts": RepDistiller's models instantiated with 100 classes
    assert count_parameters(build(name, classes=100)) == pytest.approx(millions * 1e6, abs=5e3)


@pytest.mark.parametrize("name", NEW)
def test_taps_are_stage_outputs_and_pooled_features(build, tap_outputs, name):
    model = build(name).eval()
    logits, seen = tap_outputs(model, torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 10)
    assert {"stage1", "stage2", "stage3", "penultimate"} <= set(seen) == set(model.feature_taps)
    assert seen["penultimate"].shape == (2, model.fc.in_features)
    sizes = [seen[tap].shape[-1] for tap in sorted(t for t in seen if t.startswith("stage"))]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]
    cfg = model_cfg(model)
    assert cfg is not None and cfg.classifier == "fc" and cfg.hint_tap == "stage2"


@pytest.mark.parametrize(("name", "sizes"), [
    ("mobilenetv2-w0.5", [16, 8, 4, 2]),  # RepDistiller's f1..f4: the stem has stride 2
    ("shufflenetv1", [16, 8, 4]), ("shufflenetv2", [16, 8, 4]), ("resnet50-cifar", [32, 16, 8, 4]),
])
def test_stage_resolutions_on_32_pixel_images(build, tap_outputs, name, sizes):
    _, seen = tap_outputs(build(name).eval(), torch.randn(1, 3, 32, 32))
    assert [seen[f"stage{i}"].shape[-1] for i in range(1, len(sizes) + 1)] == sizes


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64)], ids=str)
@pytest.mark.parametrize("name", NEW)
def test_output_shape_for_other_inputs(build, name, shape):
    assert build(name, shape=shape, classes=7).eval()(torch.randn(2, *shape)).shape == (2, 7)


def test_mobilenetv2_width_sets_channels_but_keeps_1280_below_width_1(build):
    half, full, wide = build("mobilenetv2-w0.5"), build("mobilenetv2"), build("mobilenetv2-w1.5")
    assert half.fc.in_features == full.fc.in_features == 1280
    assert wide.fc.in_features == 1920
    assert half.stem[0].out_channels == 16 and full.stem[0].out_channels == 32
    assert count_parameters(half) < count_parameters(full) < count_parameters(wide)
    assert build("mobilenetv2-w0.5", {"expansion": 4}).blocks[1][0].conv[0][0].out_channels == 32


def test_inverted_residual_adds_the_input_only_when_the_shape_is_kept(build):
    model = build("mobilenetv2-w0.5")
    residual = [block.residual for stage in model.blocks for block in stage]
    assert residual == [False, False, True, False, True, True, False, True, True, True,
                        False, True, True, False, True, True, False]


def test_shufflenetv1_downsampling_units_concatenate_the_pooled_input(build):
    model = build("shufflenetv1")
    first = model.stage1[0]
    assert isinstance(first.shortcut, nn.AvgPool2d) and first.conv3.out_channels == 240 - 24
    assert first.conv1.groups == 1 and model.stage1[1].conv1.groups == 3
    assert [len(model.stage1), len(model.stage2), len(model.stage3)] == [4, 8, 4]


def test_shufflenetv2_widths(build):
    assert build("shufflenetv2").fc.in_features == 1024
    assert build("shufflenetv2", {"width": 2.0}).fc.in_features == 2048
    with pytest.raises(ValueError):
        build("shufflenetv2", {"width": 0.75})


def test_channel_shuffle_interleaves_groups():
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]


def test_resnet50_cifar_is_bottleneck_3_4_6_3_and_resnet18_basic(build):
    model = build("resnet50-cifar")
    assert [len(getattr(model, f"stage{i}")) for i in range(1, 5)] == [3, 4, 6, 3]
    assert all(isinstance(block, Bottleneck) for block in model.stage3)
    assert model.stem[0].stride == (1, 1) and model.fc.in_features == 2048
    assert build("resnet18-cifar").fc.in_features == 512


@pytest.mark.parametrize(("name", "message"), [
    ("resnet51-cifar", "18, 34, 50, 101, 152"), ("mobilenetv2-w0", "width"),
    ("mobilenetv2-w0.01", "width"), ("resnet50", "resnet50-cifar"),
])
def test_invalid_names_raise_one_line(build, name, message):
    with pytest.raises(KdbenchError) as error:
        build(name)
    assert message in str(error.value) and name in str(error.value) and "\n" not in str(error.value)
