"""Shared fixtures for the data set tests: isolation from data installed on the machine, and a
writer of tiny CIFAR pickles in the official format."""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from kdbench.data import idx
from kdbench.plugins import get_plugin_manager


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


Split = tuple[np.ndarray, np.ndarray]


def cifar_images(n: int, first: int) -> np.ndarray:
    """``n`` images (n, 3, 32, 32) whose pixel (channel 1, row 5, column 7) holds its number."""
    images = np.zeros((n, 3, 32, 32), dtype=np.uint8)
    images[:, 1, 5, 7] = np.arange(first, first + n)
    images[:, 0, 0, 31] = 255
    return images


def write_pickle(path: Path, images: np.ndarray, label_key: bytes, labels: list[int]) -> None:
    entry = {b"batch_label": b"tiny", b"data": images.reshape(len(images), -1), label_key: labels,
             b"filenames": [f"{i}.png".encode() for i in range(len(images))]}
    if label_key == b"fine_labels":
        entry[b"coarse_labels"] = [label // 5 for label in labels]
    with path.open("wb") as handle:
        pickle.dump(entry, handle, protocol=2)


@pytest.fixture
def write_cifar() -> Callable[..., dict[str, Split]]:
    """``write_cifar(root, "cifar10" | "cifar100", per_file)``: tiny pickles under ``root`` in
    torchvision's layout; returns the images and labels written, per split."""
    def write(root: Path, variant: str = "cifar10", per_file: int = 4) -> dict[str, Split]:
        if variant == "cifar10":
            folder, key, classes = root / "cifar-10-batches-py", b"labels", 10
            files = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
        else:
            folder, key, classes = root / "cifar-100-python", b"fine_labels", 100
            files = {"train": ["train"], "test": ["test"]}
        folder.mkdir(parents=True, exist_ok=True)
        written, count = {}, 0
        for split, names in files.items():
            parts = []
            for name in names:
                images = cifar_images(per_file, count)
                labels = [(count + i) * 7 % classes for i in range(per_file)]
                write_pickle(folder / name, images, key, labels)
                parts.append((images, np.array(labels)))
                count += per_file
            written[split] = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
        return written

    return write
