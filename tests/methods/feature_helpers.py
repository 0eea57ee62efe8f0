"""Shared pieces of the feature-method tests: models of the CIFAR table built at a small size,
a tiny 3-channel data set, and float64 tensors from fixed numpy draws."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from kdbench.data import ImageTensors
from kdbench.plugins import get_plugin_manager


def cifar_data(n: int = 8, size: int = 16) -> ImageTensors:
    """``n`` random 3 x ``size`` x ``size`` images of 4 classes."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=generator)
    return ImageTensors(images, torch.arange(n) % 4, num_classes=4, mean=(0.5,) * 3, std=(0.25,) * 3)


def model(name: str, data: ImageTensors, **params: object) -> nn.Module:
    """The installed model ``name`` built for ``data`` (seeded)."""
    info = get_plugin_manager().models.get(name)
    torch.manual_seed(0)
    return info.factory(name, info.Params.model_validate(params), in_channels=data.in_channels,
                        image_size=data.image_size, num_classes=data.num_classes)


def draw(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


def tensor(array: np.ndarray, grad: bool = False) -> Tensor:
    return torch.tensor(array, dtype=torch.float64, requires_grad=grad)
