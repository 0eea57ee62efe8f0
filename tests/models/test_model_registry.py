"""The built-in families in the registry: names route to the right family, `kdbench list models`
shows each with its example, and build_model builds them for a data set's shape."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from kdbench.build import build_model
from kdbench.cli import main
from kdbench.specs import Ref

FAMILIES = {"wrn": "wrn-40-2", "resnet": "resnet56", "resnet-x4": "resnet32x4",
            "preresnet": "preresnet56", "vgg": "vgg13", "torchvision": "torchvision/resnet18",
            "timm": "timm/resnet18"}


def test_list_models_shows_every_family_with_its_example(capsys):
    assert main(["list", "models"]) == 0
    out = capsys.readouterr().out
    for family, example in FAMILIES.items():
        assert f"{family}: " in out and f" (e.g. {example})" in out
    assert "wrn: wrn-{depth}-{k} (e.g. wrn-40-2)" in out


@pytest.mark.parametrize(("name", "family"), [
    *((example, family) for family, example in FAMILIES.items()),
    ("resnet8x4", "resnet-x4"), ("resnet110", "resnet"), ("preresnet110", "preresnet"),
    ("wrn-28-10", "wrn"), ("timm/resnet50.a1_in1k", "timm"), ("vgg8", "vgg"),
])
def test_names_route_to_their_family(pm, name, family):
    info = pm.models.get(name)
    assert info.name == family
    assert info.example is not None and info.matches(info.example)


def test_build_model_uses_the_data_shape(pm):
    data = SimpleNamespace(in_channels=1, image_size=28, num_classes=10)
    model = build_model(pm, Ref(name="wrn-16-1", params={"dropout": 0.1}), data).eval()
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
