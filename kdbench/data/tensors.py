"""Small image sets held in memory as uint8 tensors, batched and augmented in bulk."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import torch
from torch import Tensor

from kdbench.data.augment import apply_views, normalize, random_views
from kdbench.data.sampling import epoch_stop, limit_indices


class Batch(NamedTuple):
    """A batch: normalized float ``images``, int64 ``labels``, each example's ``index`` in its
    split (methods with a per-example memory, like CRD, need it) and ``label_mask``, bool, True
    where the label may be used. A hidden label's value is unspecified and must never matter.
    ``view``: each image's augmentation as an int64 view id (``kdbench.data.augment``), or None
    for unaugmented or streamed batches; the engine serves a teacher's logits by (index, view)."""

    images: Tensor
    labels: Tensor
    index: Tensor  # type: ignore[assignment]  # the public field name; it shadows tuple.index
    label_mask: Tensor
    view: Tensor | None = None


@dataclass(frozen=True)
class ImageTensors:
    """One split of an image data set: ``images`` uint8 (N, C, H, W), ``labels`` int64 (N,) and
    ``label_mask`` bool (N,), True where the label may be used (default: every label)."""

    images: Tensor
    labels: Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    label_mask: Tensor = field(default=None)  # type: ignore[assignment]  # None: all known

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} "
                             f"{tuple(self.images.shape)}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        object.__setattr__(self, "label_mask", label_mask_for(self.labels, self.label_mask))

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def in_channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    def subset(self, indices: Tensor) -> ImageTensors:
        return replace(self, images=self.images[indices], labels=self.labels[indices],
                       label_mask=self.label_mask[indices])

    def limit(self, n: int | None, seed: int = 0) -> ImageTensors:
        """At most ``n`` examples, a fixed random sample (the same for every run)."""
        indices = limit_indices(len(self), n, seed)
        return self if indices is None else self.subset(indices)

    def to(self, device: torch.device | str) -> ImageTensors:
        return replace(self, images=self.images.to(device), labels=self.labels.to(device),
                       label_mask=self.label_mask.to(device))

    def eval_batches(self, batch_size: int) -> Iterator[Batch]:
        """Normalized float batches in order, without augmentation."""
        for start in range(0, len(self), batch_size):
            index = torch.arange(start, min(start + batch_size, len(self)), device=self.labels.device)
            yield Batch(normalize(self.images[index], self.mean, self.std), self.labels[index], index,
                        self.label_mask[index])

    def train_batches(self, batch_size: int, generator: torch.Generator,
                      augment: tuple[str, ...] = (), crop_padding: int = 4,
                      ) -> Iterator[Batch]:
        """One epoch of shuffled, augmented, normalized batches; a last partial batch is dropped
        when a full one exists (batch norm cannot train on one example)."""
        order = torch.randperm(len(self), generator=generator).to(self.images.device)
        for start in range(0, epoch_stop(len(self), batch_size), batch_size):
            index = order[start:start + batch_size]
            images, views = self.images[index], None
            if augment:
                views = random_views(len(index), augment, crop_padding, generator).to(index.device)
                images = apply_views(images, views, augment, crop_padding)
            yield Batch(normalize(images, self.mean, self.std), self.labels[index], index,
                        self.label_mask[index], views)


def label_mask_for(labels: Tensor, mask: Tensor | None) -> Tensor:
    """``mask`` checked against ``labels`` (bool, one per label), or every label known when None."""
    if mask is None:
        return torch.ones(len(labels), dtype=torch.bool, device=labels.device)
    if mask.dtype != torch.bool or tuple(mask.shape) != (len(labels),):
        raise ValueError(f"label_mask must be bool ({len(labels)},), got {mask.dtype} {tuple(mask.shape)}")
    return mask
