"""Writers of tiny data files in the real on-disk formats: CIFAR pickles, IDX files (MNIST, EMNIST)
and an ImageNet folder. Plain functions, shared by the data set tests and the track tests."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
from PIL import Image

Split = tuple[np.ndarray, np.ndarray]
IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}


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


def write_cifar(root: Path, variant: str = "cifar10", per_file: int = 4) -> dict[str, Split]:
    """Tiny pickles of ``variant`` ("cifar10" or "cifar100") under ``root`` in torchvision's
    layout, ``per_file`` images in each file; returns the images and labels written, per split."""
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


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> None:
    """``array`` as an IDX file: magic 00 00 <type> <ndim>, big-endian sizes and values."""
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def class_images(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """28x28 uint8 images with a bright bar whose row tells the class, plus a little noise, so that
    tiny networks have something to learn."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 40, size=(len(labels), 28, 28), dtype=np.uint8)
    rows = 2 + 2 * (labels % 12)
    images[np.arange(len(labels)), rows, 4:24] = 255
    return images


def balanced_labels(classes: int, per_class: int) -> np.ndarray:
    """``per_class`` labels of each of ``classes`` classes, interleaved (0, 1, ..., 0, 1, ...)."""
    return np.tile(np.arange(classes, dtype=np.uint8), per_class)


def write_mnist(root: Path, train_per_class: int = 25, test_per_class: int = 4) -> None:
    """Tiny MNIST IDX files under ``root/MNIST/raw``, balanced over the 10 digits."""
    for prefix, per_class, seed in (("train", train_per_class, 0), ("t10k", test_per_class, 1)):
        labels = balanced_labels(10, per_class)
        write_idx(root / "MNIST" / "raw" / f"{prefix}-images-idx3-ubyte", class_images(labels, seed))
        write_idx(root / "MNIST" / "raw" / f"{prefix}-labels-idx1-ubyte", labels)


def write_emnist(root: Path, split: str = "byclass", classes: int = 62, train_per_class: int = 2,
                 test_per_class: int = 1) -> None:
    """Tiny EMNIST IDX files of ``split`` under ``root/EMNIST/raw``, stored transposed like the
    real ones."""
    for part, per_class, seed in (("train", train_per_class, 2), ("test", test_per_class, 3)):
        labels = balanced_labels(classes, per_class)
        images = class_images(labels, seed).transpose(0, 2, 1).copy()
        write_idx(root / "EMNIST" / "raw" / f"emnist-{split}-{part}-images-idx3-ubyte", images)
        write_idx(root / "EMNIST" / "raw" / f"emnist-{split}-{part}-labels-idx1-ubyte", labels)


def write_imagenet(root: Path, wnids: tuple[str, ...] = ("n01440764", "n01443537"),
                   per_class: int = 4, size: tuple[int, int] = (32, 24)) -> None:
    """A tiny ImageNet ImageFolder copy under ``root/imagenet``: ``train/<wnid>/*.JPEG`` and
    ``val/<wnid>/*.JPEG``, ``per_class`` small images of each class in each."""
    for split in ("train", "val"):
        for label, wnid in enumerate(wnids):
            folder = root / "imagenet" / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                Image.new("RGB", size, (200 * label % 256, 50 + 10 * i, 100)).save(folder / f"{i}.JPEG")
