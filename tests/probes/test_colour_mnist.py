"""Coloured mnist-5k: deterministic, three channels, the chosen share coloured, digits as labels."""

from __future__ import annotations

import torch

from kdbench.data.colour import ColourParams, coloured_mnist, load_mnist_5k_colour
from kdbench.data.embedded import load_mnist_5k
from kdbench.data.normalization import STANDARD


def coloured(images: torch.Tensor) -> torch.Tensor:
    """Which images have channels that differ (grey ones have three equal channels)."""
    return (images[:, 0] != images[:, 1]).flatten(1).any(1) | (images[:, 1] != images[:, 2]).flatten(1).any(1)


def test_grey_version_is_mnist_5k_on_three_channels() -> None:
    grey = load_mnist_5k_colour(ColourParams(fraction=0.0), "test")
    plain = load_mnist_5k(STANDARD, "test")
    assert grey.images.shape == (1000, 3, 28, 28)
    assert grey.images.equal(plain.images.expand(-1, 3, -1, -1))
    assert grey.labels.equal(plain.labels)
    assert grey.mean == grey.std == (0.5, 0.5, 0.5)


def test_the_chosen_share_is_coloured_the_same_way_every_time() -> None:
    images, labels = coloured_mnist(0.5, 7)
    assert int(coloured(torch.from_numpy(images)).sum()) == 2500
    coloured_mnist.cache_clear()
    again, _ = coloured_mnist(0.5, 7)
    assert (again == images).all()
    other, _ = coloured_mnist(0.5, 8)
    assert not (other == images).all()
    every, _ = coloured_mnist(1.0, 7)
    assert bool(coloured(torch.from_numpy(every)).all())

