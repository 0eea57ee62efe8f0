"""Image sets too large for memory, streamed from files through DataLoader workers.

``ImageStream`` offers the interface the engine uses on ``ImageTensors`` (``labels``, ``limit``,
``to``, ``train_batches``, ``eval_batches``). Workers decode and crop to uint8 tensors; batches are
normalized on the target device. Training crops are ``RandomResizedCrop`` (the ImageNet convention)
and evaluation uses ``Resize(256)`` + ``CenterCrop(224)``. The shuffle order and the workers' seeds
come from the caller's generator, so an epoch is repeatable for a fixed number of workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from kdbench.data.augment import normalize
from kdbench.data.sampling import epoch_stop, limit_indices
from kdbench.data.tensors import Batch, label_mask_for
from kdbench.errors import KdbenchError

Transform = Callable[[Image.Image], Tensor]


class ImageSource(Protocol):
    """Random access to decoded images by position."""

    def __len__(self) -> int: ...

    def image(self, position: int) -> Image.Image: ...


def default_workers() -> int:
    """``KDBENCH_DATA_WORKERS``, else one worker per CPU this process may use, at most 8."""
    text = os.environ.get("KDBENCH_DATA_WORKERS", "").strip()
    if text:
        if not text.isdigit():
            raise KdbenchError(f"KDBENCH_DATA_WORKERS must be a whole number, 0 or more; got {text!r}")
        return int(text)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(8, cpus)


class _Examples(Dataset):
    """The split's ``k``-th example as (uint8 (3, size, size) tensor, k), for DataLoader workers."""

    def __init__(self, source: ImageSource, positions: Tensor, transform: Transform):
        self.source, self.positions, self.transform = source, positions.tolist(), transform

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, k: int) -> tuple[Tensor, int]:
        return self.transform(self.source.image(self.positions[k]).convert("RGB")), k


@dataclass(frozen=True)
class ImageStream:
    """One split of a streamed image set: the ``positions`` of its examples in ``source`` and
    their int64 ``labels`` and bool ``label_mask`` (True where the label may be used; default: every
    label); images arrive as normalized float (N, 3, image_size, image_size)."""

    source: ImageSource
    positions: Tensor
    labels: Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    image_size: int = 224
    resize: int = 256
    workers: int = field(default_factory=default_workers)
    device: torch.device = torch.device("cpu")
    label_mask: Tensor = field(default=None)  # type: ignore[assignment]  # None: all known

    def __post_init__(self) -> None:
        if len(self.positions) != len(self.labels):
            raise ValueError(f"{len(self.positions)} positions but {len(self.labels)} labels")
        object.__setattr__(self, "label_mask", label_mask_for(self.labels, self.label_mask))

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def in_channels(self) -> int:
        return 3

    def subset(self, indices: Tensor) -> ImageStream:
        """The examples at ``indices`` (positions in this split)."""
        indices = indices.cpu()
        on_device = indices.to(self.labels.device)
        return replace(self, positions=self.positions[indices], labels=self.labels[on_device],
                       label_mask=self.label_mask[on_device])

    def limit(self, n: int | None, seed: int = 0) -> ImageStream:
        """At most ``n`` examples, a fixed random sample (the same for every run)."""
        indices = limit_indices(len(self), n, seed)
        return self if indices is None else self.subset(indices)

    def to(self, device: torch.device | str) -> ImageStream:
        """A copy whose labels live, and whose batches arrive, on ``device``."""
        device = torch.device(device)
        return replace(self, labels=self.labels.to(device), label_mask=self.label_mask.to(device),
                       device=device)

    def train_transform(self, augment: Sequence[str]) -> Transform:
        """``crop``: a random resized crop, else resize and center crop; ``flip``: a random flip."""
        from torchvision.transforms import v2

        crop = ([v2.RandomResizedCrop(self.image_size)] if "crop" in augment
                else [v2.Resize(self.resize), v2.CenterCrop(self.image_size)])
        flip = [v2.RandomHorizontalFlip()] if "flip" in augment else []
        return v2.Compose([*crop, *flip, v2.PILToTensor()])

    def eval_transform(self) -> Transform:
        from torchvision.transforms import v2

        return v2.Compose([v2.Resize(self.resize), v2.CenterCrop(self.image_size), v2.PILToTensor()])

    def _batches(self, transform: Transform, batches: list[list[int]], seed: int) -> Iterator[Batch]:
        loader = DataLoader(_Examples(self.source, self.positions, transform), batch_sampler=batches,
                            num_workers=self.workers, pin_memory=self.device.type == "cuda",
                            generator=torch.Generator().manual_seed(seed))
        for images, index in loader:
            images = images.to(self.device, non_blocking=True)
            index = index.to(self.device, non_blocking=True)
            yield Batch(normalize(images, self.mean, self.std), self.labels[index], index,
                        self.label_mask[index])

    def train_batches(self, batch_size: int, generator: torch.Generator,
                      augment: tuple[str, ...] = (), crop_padding: int = 4,
                      ) -> Iterator[Batch]:
        """One epoch of shuffled, augmented batches; ``crop`` is a random resized crop and
        ``crop_padding`` is unused. A last partial batch is dropped when a full one exists."""
        order = torch.randperm(len(self), generator=generator)
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        batches = [chunk.tolist() for chunk in order[:epoch_stop(len(self), batch_size)].split(batch_size)]
        yield from self._batches(self.train_transform(augment), batches, seed)

    def eval_batches(self, batch_size: int) -> Iterator[Batch]:
        """Batches in order, resized and center-cropped."""
        batches = [list(range(start, min(start + batch_size, len(self))))
                   for start in range(0, len(self), batch_size)]
        yield from self._batches(self.eval_transform(), batches, 0)
