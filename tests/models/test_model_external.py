"""torchvision/<name> and timm/<name>: sizes, the data's channels and classes, taps, pretrained
weights (never downloaded: torchvision's loader is replaced) and clear errors."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
import torchvision

from kdbench.build import count_parameters
from kdbench.errors import KdbenchError

SHAPES = [(1, 28, 28), (3, 32, 32), (3, 224, 224)]


@pytest.mark.parametrize(("name", "count"), [("torchvision/resnet18", 11_689_512),
                                             ("torchvision/resnet50", 25_557_032)])
def test_torchvision_resnets_have_their_published_size(build, name, count):
    assert count_parameters(build(name, shape=(3, 224, 224), classes=1000)) == count


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", ["torchvision/resnet18", "timm/resnet18"])
def test_external_models_fit_the_data(build, name, shape):
    model = build(name, shape=shape, classes=7).eval()
    with torch.no_grad():
        assert model(torch.randn(1, *shape)).shape == (1, 7)


@pytest.mark.parametrize("name", ["torchvision/resnet18", "timm/resnet18"])
def test_resnet_stages_and_penultimate_taps(build, tap_outputs, name):
    model = build(name).eval()
    assert set(model.feature_taps) == {"stage1", "stage2", "stage3", "stage4", "penultimate"}
    _, seen = tap_outputs(model, torch.randn(2, 3, 32, 32))
    assert set(seen) == set(model.feature_taps)
    assert seen["stage4"].shape == (2, 512, 1, 1)
    assert seen["penultimate"].shape == (2, 512)


@pytest.mark.parametrize("name", ["torchvision/mobilenet_v3_small", "timm/vit_tiny_patch16_224"])
def test_models_without_resnet_stages_still_have_a_penultimate_tap(build, tap_outputs, name):
    shape = (3, 224, 224) if "vit" in name else (3, 32, 32)
    model = build(name, shape=shape).eval()
    logits, seen = tap_outputs(model, torch.randn(1, *shape))
    assert logits.shape == (1, 10)
    assert seen["penultimate"].ndim == 2


def test_penultimate_tap_leaves_state_dict_and_survives_copies(build):
    model = build("torchvision/resnet18").eval()
    assert set(model.state_dict()) == set(torchvision.models.resnet18(num_classes=10).state_dict())
    for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        seen: list[torch.Size] = []
        twin.penultimate.register_forward_hook(lambda _m, _a, out, seen=seen: seen.append(out.shape))
        model(torch.randn(1, 3, 32, 32))
        assert seen == []
        twin(torch.randn(1, 3, 32, 32))
        assert seen == [(1, 512)]


@pytest.fixture
def offline_weights(monkeypatch):
    """torchvision's ResNet-18 weights, replaced by a seeded random state without any download."""
    torch.manual_seed(0)
    state = torchvision.models.resnet18().state_dict()
    monkeypatch.setattr(torchvision.models.ResNet18_Weights, "get_state_dict",
                        lambda self, *args, **kwargs: state)
    return state


def test_pretrained_weights_with_a_new_classifier(build, offline_weights):
    model = build("torchvision/resnet18", {"weights": "IMAGENET1K_V1"}, classes=10)
    assert model.fc.out_features == 10
    assert torch.equal(model.layer4[1].conv2.weight, offline_weights["layer4.1.conv2.weight"])
    same = build("torchvision/resnet18", {"weights": "DEFAULT"}, shape=(3, 224, 224), classes=1000)
    assert torch.equal(same.fc.weight, offline_weights["fc.weight"])


def test_pretrained_weights_for_grey_images(build, offline_weights):
    model = build("torchvision/resnet18", {"weights": "IMAGENET1K_V1"}, shape=(1, 28, 28)).eval()
    rgb = offline_weights["conv1.weight"]
    assert torch.allclose(model.conv1.weight, rgb.sum(dim=1, keepdim=True), atol=1e-6)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_timm_takes_channels_and_classes(build):
    model = build("timm/resnet18", shape=(1, 28, 28), classes=5)
    assert model.conv1.in_channels == 1 and model.fc.out_features == 5


@pytest.mark.parametrize(("name", "params", "message"), [
    ("torchvision/resnet19", {}, "did you mean 'resnet18'"),
    ("torchvision/fasterrcnn_resnet50_fpn", {}, "no classification model"),
    ("timm/resnet19", {}, "did you mean"),
    ("torchvision/resnet18", {"weights": "IMAGENET9K"}, "IMAGENET1K_V1"),
])
def test_unknown_external_names_and_weights(build, name, params, message):
    with pytest.raises(KdbenchError, match=message) as error:
        build(name, params)
    assert "\n" not in str(error.value)


def test_offline_download_failure_is_a_clear_error(build, monkeypatch):
    def offline(self, *args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.models.ResNet18_Weights, "get_state_dict", offline)
    with pytest.raises(KdbenchError, match="could not load weights IMAGENET1K_V1"):
        build("torchvision/resnet18", {"weights": "IMAGENET1K_V1"})


def test_params_are_validated(pm):
    with pytest.raises(ValueError):
        pm.models.get("timm/resnet18").Params.model_validate({"weights": "x"})
    assert pm.models.get("torchvision/resnet18").Params().weights is None
    assert pm.models.get("timm/resnet18").Params().pretrained is False
