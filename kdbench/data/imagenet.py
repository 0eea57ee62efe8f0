"""ImageNet (ILSVRC-2012), streamed from an ImageFolder copy or a local Hugging Face copy.

Looked for under the data root, first as ``imagenet/train/<wnid>/*.JPEG`` and
``imagenet/val/<wnid>/*.JPEG`` (torchvision's ImageFolder layout; classes are the sorted wnids of
``train``), then as a Hugging Face copy of ``ILSVRC/imagenet-1k`` in ``imagenet/`` or
``imagenet-1k/``: a ``save_to_disk`` folder or the hub's parquet files (``data/train-*.parquet``,
``data/validation-*.parquet``), with ``image`` and ``label`` columns. The test split is the
validation set. Licence terms forbid fetching it for the user, so ``--download`` does not apply.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from kdbench.data.locate import data_root, locate
from kdbench.data.stream import ImageStream
from kdbench.types import NoParams

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
IMAGE_SUFFIXES = frozenset({".jpeg", ".jpg", ".png", ".bmp", ".webp"})
FOLDER_SPLITS = {"train": "train", "test": "val"}
HF_SPLITS = {"train": "train", "test": "validation"}


class FolderImages:
    """Images read from files, named relative to one folder (compact to pass to workers)."""

    def __init__(self, folder: Path, names: list[str]):
        self.folder, self.names = folder, names

    def __len__(self) -> int:
        return len(self.names)

    def image(self, position: int) -> Image.Image:
        with Image.open(self.folder / self.names[position]) as image:
            image.load()
            return image


class HFImages:
    """Images of a Hugging Face ``datasets.Dataset`` with an ``image`` column."""

    def __init__(self, dataset: Any):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def image(self, position: int) -> Image.Image:
        return self.dataset[position]["image"]


def _subfolders(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir() if entry.is_dir()) if folder.is_dir() else []


@cache
def scan_folder(folder: Path, classes: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
    """Image files under ``folder/<class>/`` (sorted) and the index of each one's class."""
    names, labels = [], []
    for label, wnid in enumerate(classes):
        if not (folder / wnid).is_dir():
            continue
        files = sorted(entry.name for entry in (folder / wnid).iterdir()
                       if entry.is_file() and Path(entry.name).suffix.lower() in IMAGE_SUFFIXES)
        names += [f"{wnid}/{name}" for name in files]
        labels += [label] * len(files)
    return names, np.asarray(labels, dtype=np.int64)


def parquet_files(folder: Path, split: str) -> list[str]:
    """Parquet files of ``split``: named ``<split>-*.parquet`` or inside a folder named ``split``."""
    return sorted(str(path) for path in folder.rglob("*.parquet")
                  if path.name.startswith(f"{split}-") or split in path.relative_to(folder).parts[:-1])


def hf_saved_splits(folder: Path) -> list[str]:
    """The splits of a ``DatasetDict.save_to_disk`` folder (none when it is not one)."""
    index = folder / "dataset_dict.json"
    return json.loads(index.read_text(encoding="utf-8")).get("splits", []) if index.is_file() else []


def kind_of(folder: Path, split: str) -> str | None:
    """How ``split`` is stored in ``folder``: ``"folder"``, ``"saved"``, ``"parquet"`` or not at all."""
    if _subfolders(folder / FOLDER_SPLITS[split]):
        return "folder"
    if HF_SPLITS[split] in hf_saved_splits(folder):
        return "saved"
    if folder.is_dir() and parquet_files(folder, HF_SPLITS[split]):
        return "parquet"
    return None


@cache
def load_hf(folder: Path, split: str, kind: str) -> tuple[Any, np.ndarray, int]:
    """A Hugging Face split with the ``datasets`` library's own loaders: the dataset, its labels
    (read without decoding a single image) and its number of classes."""
    import datasets

    if kind == "saved":
        dataset = datasets.load_from_disk(str(folder))[split]
    else:
        dataset = datasets.load_dataset("parquet", data_files={split: parquet_files(folder, split)},
                                        split=split)
    labels = np.asarray(dataset.with_format("numpy", columns=["label"])["label"], dtype=np.int64)
    feature = dataset.features["label"]
    num_classes = getattr(feature, "num_classes", None) or int(labels.max(initial=-1)) + 1
    return dataset, labels, num_classes


def load_imagenet(params: NoParams, split: str, root: Path | None = None,
                  download: bool = False) -> ImageStream:
    """ImageNet-1k at 224x224, streamed; ``train`` (1.28M images) or ``test`` (the 50,000 val)."""
    base = data_root(root)
    candidates = [base / "imagenet", base / "imagenet-1k"]
    how = (f"place an ImageFolder copy in {candidates[0]} (train/<wnid>/*.JPEG, val/<wnid>/*.JPEG) "
           f"or a Hugging Face copy of ILSVRC/imagenet-1k (save_to_disk or parquet) in {candidates[1]}; "
           f"it cannot be downloaded for you")
    folder = locate("imagenet", candidates, lambda path: kind_of(path, split) is not None,
                    what=f"{split} images", how=how)
    kind = kind_of(folder, split)
    if kind == "folder":
        classes = _subfolders(folder / "train") or _subfolders(folder / FOLDER_SPLITS[split])
        images = folder / FOLDER_SPLITS[split]
        names, labels = scan_folder(images, tuple(classes))
        source: FolderImages | HFImages = FolderImages(images, names)
        num_classes = len(classes)
    else:
        dataset, labels, num_classes = load_hf(folder, HF_SPLITS[split], kind)
        source = HFImages(dataset)
    return ImageStream(source, torch.arange(len(labels)), torch.from_numpy(labels),
                       num_classes=num_classes, mean=IMAGENET_MEAN, std=IMAGENET_STD)
