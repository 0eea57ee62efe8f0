"""The CIFAR-style families (WRN, ResNet, ResNet x4, PreResNet, VGG): published parameter counts,
output shapes for digit, CIFAR and ImageNet-sized inputs, feature taps and invalid names."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from kdbench.build import count_parameters
from kdbench.errors import KdbenchError

SHAPES = [(1, 28, 28), (3, 32, 32), (3, 224, 224)]
SMALLEST = [("wrn-10-1", {}), ("resnet8", {}), ("resnet8x4", {}), ("preresnet8", {}),
            ("preresnet11", {"block": "bottleneck"}), ("vgg8", {})]


@pytest.mark.parametrize(("name", "millions"), [
    ("wrn-16-1", 0.175), ("wrn-16-2", 0.69), ("wrn-40-2", 2.24), ("wrn-28-10", 36.5),
    ("resnet20", 0.27), ("resnet56", 0.86), ("resnet110", 1.7),
])
def test_parameter_counts_match_the_papers(build, name, millions):
    count = count_parameters(build(name, classes=10))
    assert count == pytest.approx(millions * 1e6, rel=0.02)


@pytest.mark.parametrize(("name", "millions"), [
    ("resnet8x4", 1.23), ("resnet32x4", 7.43), ("vgg8", 3.96), ("vgg13", 9.46),
])
def test_repdistiller_models_match_their_cifar100_sizes(build, name, millions):
    assert count_parameters(build(name, classes=100)) == pytest.approx(millions * 1e6, rel=0.02)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize(("name", "params"), SMALLEST, ids=[name for name, _ in SMALLEST])
def test_output_shape_for_every_input_shape(build, name, params, shape):
    model = build(name, params, shape=shape, classes=7).eval()
    with torch.no_grad():
        logits = model(torch.randn(1 if shape[1] > 32 else 2, *shape))
    assert logits.shape == (1 if shape[1] > 32 else 2, 7)


def test_vgg_builds_for_8x8_digits(build):
    model = build("vgg11", shape=(1, 8, 8)).eval()
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize("name", ["wrn-16-2", "resnet20", "resnet8x4", "preresnet20",
                                  "preresnet56", "vgg13"])
def test_every_tap_is_a_module_with_an_output(build, tap_outputs, name):
    model = build(name).eval()
    taps = model.feature_taps
    assert {"stage1", "stage2", "stage3", "penultimate"} <= set(taps)
    for path in taps.values():
        assert isinstance(model.get_submodule(path), nn.Module)
    logits, seen = tap_outputs(model, torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 10)
    assert set(seen) == set(taps)
    assert all(out.shape[0] == 2 for out in seen.values())
    assert seen["penultimate"].shape == (2, model.fc.in_features)
    assert seen["stage1"].shape[-1] > seen["stage3"].shape[-1]


@pytest.mark.parametrize(("name", "message"), [
    ("wrn-15-2", "6n+4"), ("wrn-4-2", "6n+4"), ("wrn-16-0", "at least 1"),
    ("resnet21", "6n+2"), ("resnet2", "6n+2"), ("resnet50", "torchvision/resnet50"),
    ("resnet18", "torchvision/resnet18"), ("resnet9x4", "6n+2"),
    ("preresnet57", "9n+2"), ("preresnet21", "6n+2"), ("vgg12", "8, 11, 13, 16, 19"),
])
def test_invalid_names_raise_one_line(build, name, message):
    with pytest.raises(KdbenchError) as error:
        build(name)
    text = str(error.value)
    assert message in text and name in text and "\n" not in text


def test_preresnet_block_follows_depth_unless_told(build):
    def blocks(model: nn.Module) -> set[str]:
        return {type(module).__name__ for module in model.stage1}

    assert blocks(build("preresnet20")) == {"PreActBasic"}
    assert blocks(build("preresnet56")) == {"PreActBottleneck"}
    assert blocks(build("preresnet56", {"block": "basic"})) == {"PreActBasic"}
    with pytest.raises(KdbenchError, match="block parameter"):
        build("preresnet50")


def test_resnet_shortcuts_a_and_b(build):
    plain, projected = build("resnet20"), build("resnet20", {"shortcut": "B"})
    assert count_parameters(plain) == 269_722  # option A has no shortcut parameters
    assert count_parameters(projected) > count_parameters(plain)
    assert not any(isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) for m in plain.modules())
    assert sum(isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)
               for m in build("resnet8x4").modules()) == 3
    for model in (plain, projected, build("resnet8x4", {"shortcut": "A"})):
        assert model.eval()(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_wrn_dropout_is_a_parameter(build):
    assert not any(isinstance(m, nn.Dropout) for m in build("wrn-16-1").modules())
    assert sum(isinstance(m, nn.Dropout) for m in build("wrn-16-1", {"dropout": 0.3}).modules()) == 6
    with pytest.raises(ValueError):
        build("wrn-16-1", {"dropout": 1.0})


def test_taps_survive_training_mode_backward(build):
    model = build("preresnet20").train()
    seen: dict[str, torch.Tensor] = {}
    model.get_submodule(model.feature_taps["stage2"]).register_forward_hook(
        lambda _m, _a, out: seen.__setitem__("stage2", out))
    model(torch.randn(2, 3, 16, 16)).sum().backward()
    assert seen["stage2"].requires_grad
