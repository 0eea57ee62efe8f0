"""Coloured MNIST, made deterministically from the embedded 5,000-image MNIST subset: a seeded
fraction of the images get a random digit colour and a darker random background colour (the
rule of ``kdbench.probes.transforms.colourize``); the others stay grey. Every image has three
channels and the label of its digit, so networks trained on the grey and the coloured versions
take the same inputs (Ojha et al. 2023's MNIST-Color, after Ganin et al.'s MNIST-M)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from kdbench.data.embedded import _mnist_5k, stratified_split
from kdbench.data.tensors import ImageTensors
from kdbench.probes.transforms import colourize
from kdbench.types import Params

CENTRE = (0.5, 0.5, 0.5)  # pixels scaled to [-1, 1]: the same inputs for every fraction


class ColourParams(Params):
    fraction: float = Field(1.0, ge=0, le=1, description="the share of images coloured (0: all "
                            "grey, on three channels; 1: all coloured)")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="draws which images are coloured and "
                      "their colours")


@cache
def coloured_mnist(fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """All 5,000 images as uint8 (N, 3, 28, 28), the chosen ones coloured, and their labels."""
    grey, labels = _mnist_5k()
    pixels = torch.from_numpy(grey).float().div(255).expand(-1, 3, -1, -1).contiguous()
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(len(pixels), generator=generator)[:round(fraction * len(pixels))]
    pixels[chosen] = colourize(pixels[chosen], generator)
    return pixels.mul(255).round().to(torch.uint8).numpy(), labels


def load_mnist_5k_colour(params: ColourParams, split: str, root: Path | None = None,
                         download: bool = False) -> ImageTensors:
    """The ``split`` of coloured mnist-5k (the same 4,000 / 1,000 split as ``mnist-5k``)."""
    images, labels = coloured_mnist(params.fraction, params.seed)
    return stratified_split(images, labels, 1000, split, 10, CENTRE, CENTRE)
