"""The MNIST family (MNIST, Fashion-MNIST, EMNIST) from IDX files, plain or gzipped.

Files are found in torchvision's root layout (``MNIST/raw``, ``FashionMNIST/raw``, ``EMNIST/raw``),
and Fashion-MNIST also where the Debian/Ubuntu package ``dataset-fashion-mnist`` installs it.
EMNIST stores each image transposed relative to MNIST; torchvision loads it that way, as Stanton et
al. used it, and ``orientation: upright`` transposes it back. Its ``letters`` labels run 1..26, so
they are shifted to 0..25.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from kdbench.data.locate import data_root, locate
from kdbench.data.normalization import STANDARD, ImageParams, statistics
from kdbench.data.tensors import ImageTensors

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def parse_idx(data: bytes) -> np.ndarray:
    """An IDX array: magic ``00 00 <type> <ndim>``, ``ndim`` big-endian uint32 sizes, then values."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise ValueError("not an IDX file (bad magic number)")
    ndim = data[3]
    shape = tuple(int(size) for size in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_TYPES[data[2]])
    values = np.frombuffer(data, dtype, count=int(np.prod(shape)), offset=4 + 4 * ndim)
    return values.reshape(shape).astype(dtype.newbyteorder("="))


def idx_file(folder: Path, name: str) -> Path | None:
    """``folder/name`` or ``folder/name.gz``, whichever exists (the plain file first)."""
    for path in (folder / name, folder / f"{name}.gz"):
        if path.is_file():
            return path
    return None


@cache
def read_idx(path: Path) -> np.ndarray:
    """The array in an IDX file, gunzipped when its name ends in ``.gz``."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    try:
        return parse_idx(data)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


@dataclass(frozen=True)
class IdxLayout:
    """Where one member of the MNIST family lives and how its files are read."""

    name: str
    folder: str
    files: dict[str, tuple[str, str]]
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    transposed: bool = False
    first_label: int = 0
    system_dirs: tuple[Path, ...] = ()


def load(layout: IdxLayout, split: str, root: Path | None, download: bool,
         fetch: Callable[[Path], object] | None = None, params: ImageParams = STANDARD,
         upright: bool = True) -> ImageTensors:
    """One split as (N, 1, 28, 28) uint8 images, scaled as ``params.normalize`` says; a layout
    stored transposed is transposed back when ``upright``; ``fetch(root)`` downloads into ``root``."""
    base = data_root(root)
    images_name, labels_name = layout.files[split]

    def present(folder: Path) -> bool:
        return idx_file(folder, images_name) is not None and idx_file(folder, labels_name) is not None

    folder = locate(layout.name, [base / layout.folder, *layout.system_dirs], present,
                    what=f"{split} files ({images_name}[.gz], {labels_name}[.gz])", download=download,
                    fetch=(lambda: fetch(base)) if fetch is not None else None)
    images = read_idx(idx_file(folder, images_name))
    labels = read_idx(idx_file(folder, labels_name)).astype(np.int64) - layout.first_label
    if images.ndim != 3 or len(images) != len(labels):
        raise ValueError(f"{layout.name}: {folder} holds images {images.shape} and labels "
                         f"{labels.shape}; expected (N, H, W) and (N,)")
    if layout.transposed and upright:
        images = images.transpose(0, 2, 1)
    tensor = torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8)[:, None])
    mean, std = statistics(params.normalize, layout.mean, layout.std)
    return ImageTensors(tensor, torch.from_numpy(labels), num_classes=layout.num_classes,
                        mean=mean, std=std)


MNIST = IdxLayout("mnist", "MNIST/raw", MNIST_FILES, 10, (0.1307,), (0.3081,))
FASHION_MNIST = IdxLayout("fashion-mnist", "FashionMNIST/raw", MNIST_FILES, 10, (0.2860,), (0.3530,),
                          system_dirs=(Path("/usr/share/datasets/fashion-mnist"),))
EMNIST_CLASSES = {"byclass": 62, "balanced": 47, "letters": 26, "digits": 10}


def emnist_layout(split: str) -> IdxLayout:
    """The EMNIST ``split`` (byclass, balanced, letters or digits) as a layout."""
    files = {part: (f"emnist-{split}-{part}-images-idx3-ubyte", f"emnist-{split}-{part}-labels-idx1-ubyte")
             for part in ("train", "test")}
    return IdxLayout(f"emnist ({split})", "EMNIST/raw", files, EMNIST_CLASSES[split], (0.1736,), (0.3317,),
                     transposed=True, first_label=1 if split == "letters" else 0)


class EMNISTParams(ImageParams):
    """Which EMNIST split to use, which way up, and how its pixels are scaled."""

    split: Literal["byclass", "balanced", "letters", "digits"] = Field(
        "byclass", description="byclass: 62 classes; balanced: 47; letters: 26; digits: 10")
    orientation: Literal["torchvision", "upright"] = Field(
        "torchvision", description="torchvision: as stored and as torchvision loads it (transposed "
        "against MNIST; Stanton et al.'s); upright: transposed back to MNIST's orientation")


def load_mnist(params: ImageParams, split: str, root: Path | None = None,
               download: bool = False) -> ImageTensors:
    """MNIST: 60,000 train and 10,000 test 1x28x28 handwritten digits."""
    def fetch(base: Path) -> None:
        from torchvision.datasets import MNIST as TorchvisionMNIST

        TorchvisionMNIST(str(base), train=split == "train", download=True)

    return load(MNIST, split, root, download, fetch, params)


def load_fashion_mnist(params: ImageParams, split: str, root: Path | None = None,
                       download: bool = False) -> ImageTensors:
    """Fashion-MNIST: 60,000 train and 10,000 test 1x28x28 clothing images in 10 classes."""
    def fetch(base: Path) -> None:
        from torchvision.datasets import FashionMNIST

        FashionMNIST(str(base), train=split == "train", download=True)

    return load(FASHION_MNIST, split, root, download, fetch, params)


def load_emnist(params: EMNISTParams, split: str, root: Path | None = None,
                download: bool = False) -> ImageTensors:
    """EMNIST: handwritten digits and letters, 1x28x28, in the split ``params.split`` names."""
    def fetch(base: Path) -> None:
        from torchvision.datasets import EMNIST

        EMNIST(str(base), split=params.split, train=split == "train", download=True)

    return load(emnist_layout(params.split), split, root, download, fetch, params,
                upright=params.orientation == "upright")
