"""CIFAR-10 and CIFAR-100 from the official python pickles, in torchvision's root layout.

The pickles (``cifar-10-batches-py/data_batch_1..5``, ``test_batch``; ``cifar-100-python/train``,
``test``) are read directly: torchvision's classes also check the md5 sums of the official files,
which rules out any other copy. Each holds ``b"data"``, (N, 3072) uint8 rows of 1024 red, 1024
green and 1024 blue values in row-major 32x32 order, and ``b"labels"`` or ``b"fine_labels"``.
Pickles can run code when loaded: point the data root at copies you trust.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch

from kdbench.data.locate import data_root, locate
from kdbench.data.tensors import ImageTensors
from kdbench.types import NoParams


@dataclass(frozen=True)
class CifarLayout:
    """Where one CIFAR variant lives and what its files hold."""

    name: str
    folder: str
    files: dict[str, tuple[str, ...]]
    label_key: bytes
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    torchvision_class: str


CIFAR10 = CifarLayout(
    "cifar10", "cifar-10-batches-py",
    {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
    b"labels", 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), "CIFAR10")
CIFAR100 = CifarLayout(
    "cifar100", "cifar-100-python", {"train": ("train",), "test": ("test",)},
    b"fine_labels", 100, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), "CIFAR100")


def _field(entry: dict, key: bytes) -> object:
    """A field of an unpickled batch; accepts str keys too, for copies re-pickled under Python 3."""
    if key in entry:
        return entry[key]
    return entry[key.decode()]


@cache
def read_batches(folder: Path, names: tuple[str, ...], label_key: bytes,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 of the named pickles, concatenated."""
    images, labels = [], []
    for name in names:
        with (folder / name).open("rb") as handle:
            entry = pickle.load(handle, encoding="bytes")
        images.append(np.asarray(_field(entry, b"data"), dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.append(np.asarray(_field(entry, label_key), dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def load(layout: CifarLayout, split: str, root: Path | None, download: bool) -> ImageTensors:
    """One split of a CIFAR variant; ``download`` fetches it with torchvision when missing."""
    base = data_root(root)
    names = layout.files[split]

    def fetch() -> None:
        import torchvision.datasets

        getattr(torchvision.datasets, layout.torchvision_class)(str(base), train=True, download=True)

    folder = locate(layout.name, [base / layout.folder],
                    lambda path: all((path / name).is_file() for name in names),
                    what=f"{split} pickles ({', '.join(names)})", download=download, fetch=fetch)
    images, labels = read_batches(folder, names, layout.label_key)
    return ImageTensors(torch.from_numpy(images), torch.from_numpy(labels),
                        num_classes=layout.num_classes, mean=layout.mean, std=layout.std)


def load_cifar10(params: NoParams, split: str, root: Path | None = None,
                 download: bool = False) -> ImageTensors:
    """CIFAR-10: 50,000 train and 10,000 test 3x32x32 images in 10 classes."""
    return load(CIFAR10, split, root, download)


def load_cifar100(params: NoParams, split: str, root: Path | None = None,
                  download: bool = False) -> ImageTensors:
    """CIFAR-100: 50,000 train and 10,000 test 3x32x32 images in 100 (fine) classes."""
    return load(CIFAR100, split, root, download)
