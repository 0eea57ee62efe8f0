"""Every model family declares its classifier and hint tap as data (``model_cfg``), and the
declarations are true: the classifier is the layer that outputs the logits, the hint tap a map."""

from __future__ import annotations

import re
import warnings

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models import list_models

from kdbench.errors import KdbenchError
from kdbench.methods.taps import HINT, PENULTIMATE, resolve_tap
from kdbench.models import builtin_models, external
from kdbench.models.cfg import ModelCfg, model_cfg

FAMILIES = {"lenet5": "lenet5", "mlp": "mlp", "wrn": "wrn-10-1", "resnet": "resnet8",
            "resnet-x4": "resnet8x4", "preresnet": "preresnet8", "vgg": "vgg8",
            "torchvision": "torchvision/resnet18", "timm": "timm/resnet18",
            "mobilenetv2": "mobilenetv2-w0.5", "shufflenetv1": "shufflenetv1",
            "shufflenetv2": "shufflenetv2", "resnet-cifar": "resnet18-cifar"}  # the smallest of each
HINT_TAPS = {"lenet5": "conv2", "mlp": "hidden0", "wrn": "stage2", "resnet": "stage2",
             "resnet-x4": "stage2", "preresnet": "stage2", "vgg": "stage3",
             "torchvision": "stage2", "timm": "stage2", "mobilenetv2": "stage2",
             "shufflenetv1": "stage2", "shufflenetv2": "stage2",
             "resnet-cifar": "stage2"}  # RepDistiller's hint_layer 2


def test_every_builtin_family_is_covered() -> None:
    assert set(FAMILIES) == set(HINT_TAPS) == {info.name for info in builtin_models()}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_declared_classifier_outputs_the_logits(build, family: str) -> None:
    model = build(FAMILIES[family], shape=(3, 16, 16), classes=7).eval()
    cfg = model_cfg(model)
    assert isinstance(cfg, ModelCfg)
    classifier = model.get_submodule(cfg.classifier)
    assert isinstance(classifier, nn.Linear) and classifier.out_features == 7
    seen: list[torch.Tensor] = []
    classifier.register_forward_hook(lambda _module, _args, output: seen.append(output))
    with torch.no_grad():
        logits = model(torch.randn(2, 3, 16, 16))
    assert len(seen) == 1 and torch.equal(seen[0], logits)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_hint_tap_is_the_middle_stage(build, family: str) -> None:
    model = build(FAMILIES[family], shape=(3, 16, 16), classes=7)
    assert model_cfg(model).hint_tap == HINT_TAPS[family]
    assert resolve_tap(model, HINT) == resolve_tap(model, HINT_TAPS[family])


def test_the_hint_tap_of_an_mlp_is_its_middle_hidden_layer(build) -> None:
    assert model_cfg(build("mlp", {"hidden": [8, 8, 8]})).hint_tap == "hidden1"
    model = build("mlp", {"hidden": []})
    assert model_cfg(model).hint_tap is None
    with pytest.raises(KdbenchError, match=r"^MLP declares no hint tap .*\(penultimate\)"):
        resolve_tap(model, HINT)


def test_a_model_without_a_cfg_has_no_hint_tap() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(KdbenchError, match="Sequential declares no hint tap"):
        resolve_tap(model, HINT)


class TwoHeads(nn.Module):
    """A classifier followed (in module order) by another linear layer that is not it."""

    model_cfg = ModelCfg(classifier="fc")

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.aux = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def test_penultimate_is_the_input_of_the_declared_classifier() -> None:
    model = TwoHeads()
    assert resolve_tap(model, PENULTIMATE) == (model.fc, True)  # not the last linear, aux
    model.model_cfg = ModelCfg(classifier="head")
    with pytest.raises(KdbenchError, match="declares its classifier as 'head'"):
        resolve_tap(model, PENULTIMATE)


def _family(arch: str) -> list[str]:
    return [path for pattern, path in external.TORCHVISION_CLASSIFIERS if re.fullmatch(pattern, arch)]


def test_every_torchvision_architecture_is_in_exactly_one_family() -> None:
    unmatched = [arch for arch in list_models(module=torchvision.models) if len(_family(arch)) != 1]
    assert not unmatched


# the smallest architecture of each family in the table
TORCHVISION_SAMPLES = ["alexnet", "convnext_tiny", "densenet121", "squeezenet1_1", "mobilenet_v3_small",
                       "maxvit_t", "swin_t", "vit_b_32", "shufflenet_v2_x0_5", "regnet_x_400mf"]


def test_the_samples_cover_the_table() -> None:
    assert {_family(arch)[0] for arch in TORCHVISION_SAMPLES} == \
        {path for _, path in external.TORCHVISION_CLASSIFIERS}


@pytest.mark.parametrize("arch", TORCHVISION_SAMPLES)
def test_each_torchvision_familys_classifier_has_the_classes(arch: str) -> None:
    with warnings.catch_warnings(), torch.device("cpu" if arch.startswith("regnet") else "meta"):
        warnings.simplefilter("ignore")  # torchvision's notes on weight initialization
        model = external.build_torchvision(f"torchvision/{arch}", external.TorchvisionParams(),
                                           in_channels=3, image_size=224, num_classes=7)
    classifier = model.get_submodule(model_cfg(model).classifier)
    outputs = classifier.out_channels if isinstance(classifier, nn.Conv2d) else classifier.out_features
    assert outputs == 7


def test_an_architecture_missing_from_the_table_is_a_one_line_error(monkeypatch) -> None:
    monkeypatch.setattr(external, "TORCHVISION_CLASSIFIERS", external.TORCHVISION_CLASSIFIERS[:-1])
    with pytest.raises(KdbenchError, match=r"^torchvision/resnet18: kdbench does not know where "
                                           r"torchvision's resnet18 keeps its classifier") as error:
        external.torchvision_arch("torchvision/resnet18", external.TorchvisionParams())
    assert "\n" not in str(error.value)


def test_a_pretrained_head_is_replaced_at_the_declared_path() -> None:
    model = torchvision.models.resnet18(num_classes=1000)
    external._replace_head(model, "fc", 7)
    assert model.fc.out_features == 7 and model.fc.in_features == 512


class Declared(nn.Module):
    def __init__(self, classifier: object) -> None:
        super().__init__()
        self.head, self.head_dist = nn.Linear(4, 3), nn.Linear(4, 3)
        self.pretrained_cfg = {"classifier": classifier}


def test_timm_classifier_comes_from_its_pretrained_cfg() -> None:
    assert external.timm_classifier("timm/x", Declared("head_dist")) == "head_dist"
    assert external.timm_classifier("timm/x", Declared(("head", "head_dist"))) == "head"
    for bad in (None, "fc", ()):
        with pytest.raises(KdbenchError, match=r"^timm/x: timm declares no classifier module"):
            external.timm_classifier("timm/x", Declared(bad))
