"""Feature taps: forward hooks on named modules that store only inside ``read`` and go away with
their tap, so a cached teacher shared by runs keeps neither features nor stale hooks."""

from __future__ import annotations

import gc

import pytest
import torch
from torch import nn

from kdbench.errors import KdbenchError
from kdbench.methods.taps import FeatureTap, FeatureTaps, probe, probe_all, resolve_tap, tap_names, tap_path
from kdbench.models.mlp import MLP

from .conftest import lenet_pair, tiny_data


def test_declared_taps_resolve_to_their_modules() -> None:
    _, model = lenet_pair(tiny_data())
    for name, path in model.feature_taps.items():
        module, from_input = resolve_tap(model, name)
        assert module is model.get_submodule(path) and not from_input


def test_penultimate_is_declared_or_the_input_of_the_last_linear() -> None:
    data = tiny_data()
    _, model = lenet_pair(data)
    images = data.images[:3].float()
    _, feature = FeatureTap(model, "penultimate").read(model, images)
    classifier = model.classifier[-1]
    assert feature.shape == (3, classifier.in_features)
    expected = model.classifier[:-1](model.features(images))
    torch.testing.assert_close(feature, expected)
    mlp = MLP(16, 3, hidden=(8, 5))
    _, hidden = FeatureTap(mlp, "penultimate").read(mlp, torch.randn(2, 16))
    assert hidden.shape == (2, 5)


def test_a_module_path_works_and_an_unknown_tap_names_the_known_ones() -> None:
    _, model = lenet_pair(tiny_data())
    assert resolve_tap(model, "features.0")[0] is model.features[0]
    with pytest.raises(KdbenchError, match="no feature tap 'layer9'.*conv1"):
        resolve_tap(model, "layer9")
    with pytest.raises(KdbenchError, match="no feature tap"):
        resolve_tap(nn.Conv2d(1, 1, 1), "penultimate")  # no taps and no linear layer


def test_a_tap_stores_nothing_outside_read() -> None:
    _, model = lenet_pair(tiny_data())
    tap = FeatureTap(model, "conv2")
    model(torch.zeros(2, 1, 16, 16))
    assert tap._value is None
    _, feature = tap.read(model, torch.zeros(2, 1, 16, 16))
    assert feature.shape[:2] == (2, model.features[3].out_channels) and tap._value is None
    with pytest.raises(RuntimeError, match="did not see a tensor"):
        tap.read(lambda: None)


def test_the_hook_goes_away_with_its_tap() -> None:
    _, model = lenet_pair(tiny_data())
    module = model.get_submodule(model.feature_taps["fc1"])
    tap = FeatureTap(model, "fc1")
    assert len(module._forward_hooks) == 1
    del tap
    gc.collect()
    assert len(module._forward_hooks) == 0
    FeatureTap(model, "fc1").close()
    assert len(module._forward_hooks) == 0


def test_probe_restores_the_mode_and_keeps_no_gradient() -> None:
    _, model = lenet_pair(tiny_data())
    model.train()
    feature = probe(model, FeatureTap(model, "fc2"), torch.zeros(2, 1, 16, 16))
    assert model.training and not feature.requires_grad


def test_several_taps_are_read_in_one_forward() -> None:
    _, model = lenet_pair(tiny_data())
    images = torch.randn(3, 1, 16, 16)
    calls = []
    model.register_forward_hook(lambda *_: calls.append(1))
    names = ["fc1", "conv1", "penultimate", "fc2"]
    taps = FeatureTaps(model, names)
    logits, features = taps.read(model, images)
    assert len(calls) == 1 and list(features) == names
    for name in names:
        alone, feature = FeatureTap(model, name).read(model, images)
        torch.testing.assert_close(features[name], feature)
        torch.testing.assert_close(logits, alone)
    torch.testing.assert_close(features["fc2"], features["penultimate"])  # one module, two taps


def test_several_taps_store_nothing_outside_read_and_close_their_hooks() -> None:
    _, model = lenet_pair(tiny_data())
    taps = FeatureTaps(model, ["conv1", "fc1"])
    model(torch.zeros(2, 1, 16, 16))
    assert all(tap._value is None for tap in taps.taps.values())
    taps.read(model, torch.zeros(2, 1, 16, 16))
    assert all(tap._value is None for tap in taps.taps.values())
    with pytest.raises(RuntimeError, match="tap 'conv1' did not see a tensor"):
        taps.read(lambda: None)
    taps.close()
    assert all(not m._forward_hooks for m in model.modules())
    with pytest.raises(KdbenchError, match="no feature tap 'conv9'"):
        FeatureTaps(model, ["conv1", "conv9"])


def test_tap_names_and_paths_include_the_implicit_penultimate() -> None:
    _, model = lenet_pair(tiny_data())
    assert tap_names(model) == list(model.feature_taps)
    assert tap_path(model, "conv2") == "features.4"
    plain = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    assert tap_names(plain) == ["penultimate"]
    assert tap_path(plain, "penultimate") == "input of 3" and tap_path(plain, "1") == "1"
    assert tap_names(nn.Conv2d(1, 1, 1)) == []


def test_probe_all_restores_the_mode_and_leaves_no_hook() -> None:
    _, model = lenet_pair(tiny_data())
    model.train()
    features = probe_all(model, ["conv1", "fc1"], torch.zeros(2, 1, 16, 16))
    assert model.training and not any(f.requires_grad for f in features.values())
    assert features["conv1"].shape == (2, model.features[0].out_channels, 16, 16)
    assert all(not m._forward_hooks for m in model.modules())
