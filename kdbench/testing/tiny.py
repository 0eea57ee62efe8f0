"""Tiny, fixed inputs for the contract checks: an in-memory image set and a LeNet-5 pair."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from kdbench.data.tensors import ImageTensors
from kdbench.models.lenet import LeNet5


def tiny_data(labels: Tensor | None = None, label_mask: Tensor | None = None, n: int = 48,
              classes: int = 4, size: int = 16) -> ImageTensors:
    """``n`` random 1 x ``size`` x ``size`` uint8 images (the same every call) with balanced labels,
    or the ``labels`` and ``label_mask`` given."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 1, size, size), dtype=torch.uint8, generator=generator)
    labels = torch.arange(n) % classes if labels is None else labels
    mask = torch.ones(n, dtype=torch.bool) if label_mask is None else label_mask
    return ImageTensors(images, labels, num_classes=classes, mean=(0.5,), std=(0.25,), label_mask=mask)


def lenet_pair(data: ImageTensors) -> tuple[nn.Module, nn.Module]:
    """A LeNet-5 student of width 0.5 and teacher of width 1 for ``data``'s images and classes."""
    make = lambda width: LeNet5(data.in_channels, data.image_size, data.num_classes, width)  # noqa: E731
    return make(0.5), make(1.0)
