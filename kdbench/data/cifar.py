"""CIFAR-10 and CIFAR-100 from the official python pickles, in torchvision's root layout.

The pickles (``cifar-10-batches-py/data_batch_1..5``, ``test_batch``; ``cifar-100-python/train``,
``test``) are read directly: torchvision's classes would refuse any copy whose md5 is not the
official file's, which rules out the tiny files of the tests. Each holds ``b"data"``, (N, 3072) uint8
rows of 1024 red, 1024 green and 1024 blue values in row-major 32x32 order, and ``b"labels"`` or
``b"fine_labels"``. Pickles can run code when loaded, so they are read with a restricted unpickler
(``kdbench.data.pickles``), their arrays are checked, and an md5 other than the official one is a
warning.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch

from kdbench.data.locate import data_root, locate
from kdbench.data.normalization import STANDARD, ImageParams, statistics
from kdbench.data.pickles import load_data_pickle
from kdbench.data.tensors import ImageTensors
from kdbench.errors import KdbenchError

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
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
    md5: dict[str, str]


CIFAR10 = CifarLayout(
    "cifar10", "cifar-10-batches-py",
    {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
    b"labels", 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), "CIFAR10",
    # the official files' md5 sums, as torchvision.datasets.CIFAR10 lists them (train_list, test_list)
    {"data_batch_1": "c99cafc152244af753f735de768cd75f", "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
     "data_batch_3": "54ebc095f3ab1f0389bbae665268c751", "data_batch_4": "634d18415352ddfa80567beed471001a",
     "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb", "test_batch": "40351d587109b95175f43aff81a1287e"})
CIFAR100 = CifarLayout(
    "cifar100", "cifar-100-python", {"train": ("train",), "test": ("test",)},
    b"fine_labels", 100, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), "CIFAR100",
    # as torchvision.datasets.CIFAR100 lists them
    {"train": "16019d7e3df5f24257cddd939b257f8d", "test": "f0ef6b0ae62326f3e7ffdfab6717acfc"})


def _field(entry: object, key: bytes, path: Path) -> object:
    """A field of an unpickled batch; accepts str keys too, for copies re-pickled under Python 3."""
    if not isinstance(entry, dict):
        raise KdbenchError(f"{path}: not a CIFAR batch (a {type(entry).__name__}, not a dict)")
    for name in (key, key.decode()):
        if name in entry:
            return entry[name]
    raise KdbenchError(f"{path}: not a CIFAR batch (no {key.decode()!r} field)")


def check_md5(path: Path, expected: str | None) -> None:
    """Warn (in one line) when ``path`` is not the official file: tests and mirrors use other copies."""
    if expected is None:
        return
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    actual = digest.hexdigest()
    if actual != expected:
        log.warning("%s: md5 %s is not the official file's %s (torchvision's); reading it anyway",
                    path, actual, expected)


def read_batch(path: Path, label_key: bytes, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 of one pickle, refusing anything else."""
    entry = load_data_pickle(path)
    data, labels = _field(entry, b"data", path), _field(entry, label_key, path)
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == 3 * 32 * 32):
        shape = getattr(data, "shape", None)
        raise KdbenchError(f"{path}: 'data' must be an N x 3072 uint8 array, not "
                           f"{type(data).__name__} {getattr(data, 'dtype', '')} {shape}".rstrip())
    labels = _labels(labels)
    if labels is None or labels.shape != (len(data),) or labels.min(initial=0) < 0 \
            or labels.max(initial=0) >= num_classes:
        raise KdbenchError(f"{path}: {label_key.decode()!r} must be {len(data)} integers in "
                           f"0..{num_classes - 1}")
    return data.reshape(-1, 3, 32, 32), labels


def _labels(value: object) -> np.ndarray | None:
    """Labels as int64, or None when they are not a list (or array) of integers."""
    if isinstance(value, np.ndarray):
        return value.astype(np.int64) if value.dtype.kind in "ui" else None
    if isinstance(value, list) and all(isinstance(item, int) for item in value):
        return np.asarray(value, dtype=np.int64).reshape(-1)
    return None


@cache
def read_batches(folder: Path, layout: CifarLayout, names: tuple[str, ...],
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 of the named pickles, concatenated."""
    images, labels = [], []
    for name in names:
        check_md5(folder / name, layout.md5.get(name))
        batch_images, batch_labels = read_batch(folder / name, layout.label_key, layout.num_classes)
        images.append(batch_images)
        labels.append(batch_labels)
    return np.concatenate(images), np.concatenate(labels)


def load(layout: CifarLayout, split: str, root: Path | None, download: bool,
         params: ImageParams = STANDARD) -> ImageTensors:
    """One split of a CIFAR variant, scaled as ``params.normalize`` says; ``download`` fetches it
    with torchvision when missing."""
    base = data_root(root)
    names = layout.files[split]

    def fetch() -> None:
        import torchvision.datasets

        getattr(torchvision.datasets, layout.torchvision_class)(str(base), train=True, download=True)

    folder = locate(layout.name, [base / layout.folder],
                    lambda path: all((path / name).is_file() for name in names),
                    what=f"{split} pickles ({', '.join(names)})", download=download, fetch=fetch)
    images, labels = read_batches(folder, layout, names)
    mean, std = statistics(params.normalize, layout.mean, layout.std)
    return ImageTensors(torch.from_numpy(images), torch.from_numpy(labels),
                        num_classes=layout.num_classes, mean=mean, std=std)


def load_cifar10(params: ImageParams, split: str, root: Path | None = None,
                 download: bool = False) -> ImageTensors:
    """CIFAR-10: 50,000 train and 10,000 test 3x32x32 images in 10 classes."""
    return load(CIFAR10, split, root, download, params)


def load_cifar100(params: ImageParams, split: str, root: Path | None = None,
                  download: bool = False) -> ImageTensors:
    """CIFAR-100: 50,000 train and 10,000 test 3x32x32 images in 100 (fine) classes."""
    return load(CIFAR100, split, root, download, params)
