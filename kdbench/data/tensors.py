"""Small image sets held in memory as uint8 tensors, batched and augmented in bulk."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import NamedTuple

import torch
from torch import Tensor

from kdbench.data.augment import normalize, random_crop, random_flip


class Batch(NamedTuple):
    """A batch: normalized float ``images``, int64 ``labels`` and each example's ``index`` in its
    split (methods with a per-example memory, like CRD, need it)."""

    images: Tensor
    labels: Tensor
    index: Tensor


@dataclass(frozen=True)
class ImageTensors:
    """One split of an image data set: ``images`` uint8 (N, C, H, W), ``labels`` int64 (N,)."""

    images: Tensor
    labels: Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} "
                             f"{tuple(self.images.shape)}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def in_channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    def subset(self, indices: Tensor) -> ImageTensors:
        return replace(self, images=self.images[indices], labels=self.labels[indices])

    def limit(self, n: int | None, seed: int = 0) -> ImageTensors:
        """At most ``n`` examples, a fixed random sample (the same for every run)."""
        if n is None or n >= len(self):
            return self
        generator = torch.Generator().manual_seed(seed)
        return self.subset(torch.randperm(len(self), generator=generator)[:n].sort().values)

    def to(self, device: torch.device | str) -> ImageTensors:
        return replace(self, images=self.images.to(device), labels=self.labels.to(device))

    def eval_batches(self, batch_size: int) -> Iterator[Batch]:
        """Normalized float batches in order, without augmentation."""
        for start in range(0, len(self), batch_size):
            index = torch.arange(start, min(start + batch_size, len(self)), device=self.labels.device)
            yield Batch(normalize(self.images[index], self.mean, self.std), self.labels[index], index)

    def train_batches(self, batch_size: int, generator: torch.Generator,
                      augment: tuple[str, ...] = (), crop_padding: int = 4,
                      ) -> Iterator[Batch]:
        """One epoch of shuffled, augmented, normalized batches; a last partial batch is dropped
        when a full one exists (batch norm cannot train on one example)."""
        order = torch.randperm(len(self), generator=generator).to(self.images.device)
        stop = len(self) - len(self) % batch_size if len(self) >= batch_size else len(self)
        for start in range(0, stop, batch_size):
            index = order[start:start + batch_size]
            images = self.images[index]
            if "crop" in augment:
                images = random_crop(images, crop_padding, generator)
            if "flip" in augment:
                images = random_flip(images, generator)
            yield Batch(normalize(images, self.mean, self.std), self.labels[index], index)
