"""The images ``kdbench bench`` trains on: a data set's training split, or random images of its
shape (``--synthetic``) for a data set that is not on disk."""

from __future__ import annotations

from pathlib import Path

import torch

from kdbench.data.source import DataSource
from kdbench.data.split import Split
from kdbench.data.tensors import ImageTensors
from kdbench.errors import DataNotFoundError, KdbenchError
from kdbench.plugins import PluginManager
from kdbench.specs import DataRef, Ref

SHAPES: dict[str, tuple[int, int, int]] = {  # channels, image size, classes of the built-in sets
    "digits": (1, 8, 10), "mnist-5k": (1, 28, 10), "mnist": (1, 28, 10),
    "fashion-mnist": (1, 28, 10), "cifar10": (3, 32, 10), "cifar100": (3, 32, 100),
    "imagenet": (3, 224, 1000),
}


def synthetic(dataset: str, examples: int, seed: int = 0) -> ImageTensors:
    """``examples`` random uint8 images and labels of ``dataset``'s shape."""
    if dataset not in SHAPES:
        raise KdbenchError(f"--synthetic --dataset {dataset}: its shape is not known; use one of "
                           f"{', '.join(SHAPES)}")
    channels, size, classes = SHAPES[dataset]
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (examples, channels, size, size), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, classes, (examples,), generator=generator)
    return ImageTensors(images, labels, classes, (0.5,) * channels, (0.25,) * channels)


def training_split(pm: PluginManager, dataset: str, data_dir: Path) -> Split:
    """``dataset``'s training split as ``kdbench run`` loads it; missing data is one line."""
    try:
        return DataSource(pm, data_dir).training(DataRef(name=dataset), Ref(name=dataset))
    except DataNotFoundError as error:
        raise DataNotFoundError(f"{error}; or time random images of its shape: --synthetic") from None
