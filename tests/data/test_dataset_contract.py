"""Every built-in data set keeps kdbench.testing's contract, on its real on-disk format: the
embedded sets as shipped, the others from tiny files the tests write."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from files import write_cifar, write_emnist, write_imagenet, write_mnist

from kdbench.plugins import get_plugin_manager
from kdbench.testing import check_dataset

WRITERS: dict[str, Callable[[Path], object]] = {
    "digits": lambda root: None,
    "mnist-5k": lambda root: None,
    "mnist-5k-color": lambda root: None,
    "cifar10": lambda root: write_cifar(root, "cifar10"),
    "cifar100": lambda root: write_cifar(root, "cifar100"),
    "mnist": write_mnist,
    "emnist": write_emnist,
    "imagenet": write_imagenet,
}
NO_FILES_HERE = {"fashion-mnist"}  # IDX like mnist; its loader is tested in test_idx_files.py


def test_every_builtin_data_set_is_checked_or_named() -> None:
    builtin = {entry.info.name for entry in get_plugin_manager().datasets if entry.plugin == "builtin"}
    assert builtin == set(WRITERS) | NO_FILES_HERE


SLOW = {"mnist-5k", "mnist-5k-color"}  # four loads of the embedded 5,000 images: about 30 s on 2 cores


@pytest.mark.parametrize("name", [pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else [])
                                  for name in sorted(WRITERS)])
def test_builtin_data_set_keeps_the_contract(name: str, tmp_path: Path) -> None:
    WRITERS[name](tmp_path)
    check_dataset(name, root=tmp_path)
