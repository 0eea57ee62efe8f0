"""Fixtures for the model tests: build any registered model by name, and record tap outputs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from kdbench.plugins import PluginManager


@pytest.fixture
def build(pm: PluginManager) -> Callable[..., nn.Module]:
    """``build(name, params=None, shape=(3, 32, 32), classes=10)``: the model, through the registry."""
    def make(name: str, params: dict | None = None, shape: tuple[int, int, int] = (3, 32, 32),
             classes: int = 10) -> nn.Module:
        info = pm.models.get(name)
        return info.factory(name, info.Params.model_validate(params or {}), in_channels=shape[0],
                            image_size=shape[1], num_classes=classes)
    return make


def _tap_outputs(model: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    seen: dict[str, torch.Tensor] = {}
    handles = [model.get_submodule(path).register_forward_hook(
        lambda _module, _args, output, tap=tap: seen.__setitem__(tap, output))
        for tap, path in model.feature_taps.items()]
    try:
        with torch.no_grad():
            logits = model(images)
    finally:
        for handle in handles:
            handle.remove()
    return logits, seen


@pytest.fixture
def tap_outputs() -> Callable[..., tuple[torch.Tensor, dict[str, torch.Tensor]]]:
    """``tap_outputs(model, images)``: the logits and what each declared tap's module returned,
    read through forward hooks."""
    return _tap_outputs
