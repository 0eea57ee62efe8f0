"""Shared fixtures for the data set tests: isolation from data installed on the machine, and a
writer of tiny CIFAR pickles in the official format (from the plain helper module ``files``)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper module beside this file

from files import Split  # noqa: E402
from files import write_cifar as write_cifar_files  # noqa: E402

from kdbench.data import idx  # noqa: E402
from kdbench.plugins import get_plugin_manager  # noqa: E402


@pytest.fixture(autouse=True)
def no_system_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees a system-wide Fashion-MNIST, and streamed sets decode in-process."""
    monkeypatch.setattr(idx, "FASHION_MNIST", dataclasses.replace(
        idx.FASHION_MNIST, system_dirs=(tmp_path / "system" / "fashion-mnist",)))
    monkeypatch.setenv("KDBENCH_DATA_WORKERS", "0")


@pytest.fixture
def load() -> Callable[..., object]:
    """``load(name, split, root, download=False, params=None)`` through the plugin registry."""
    def call(name: str, split: str, root: Path, download: bool = False,
             params: dict[str, object] | None = None) -> object:
        info = get_plugin_manager().datasets.get(name)
        return info.factory(info.Params.model_validate(params or {}), split, root=root, download=download)

    return call


@pytest.fixture
def write_cifar() -> Callable[..., dict[str, Split]]:
    """``write_cifar(root, "cifar10" | "cifar100", per_file)``: tiny pickles under ``root`` in
    torchvision's layout; returns the images and labels written, per split."""
    return write_cifar_files
