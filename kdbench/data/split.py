"""What the engine needs from one split of a data set, whether held in memory or streamed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Protocol

import torch
from torch import Tensor

from kdbench.data.tensors import Batch


class Split(Protocol):
    """One split: its labels (``label_mask``, bool (N,), True where a label may be used; a hidden
    label's value is unspecified), shape, fixed subsets, and batch iterators on a device.

    ``ImageTensors`` (small sets, in memory) and ``ImageStream`` (ImageNet, from files) implement it.
    """

    __dataclass_fields__: ClassVar[dict[str, Any]]
    """A split is a frozen dataclass: training data is derived from it by ``dataclasses.replace``."""

    @property
    def labels(self) -> Tensor: ...

    @property
    def label_mask(self) -> Tensor: ...

    @property
    def num_classes(self) -> int: ...

    @property
    def mean(self) -> tuple[float, ...]: ...

    @property
    def std(self) -> tuple[float, ...]: ...

    def __len__(self) -> int: ...

    @property
    def in_channels(self) -> int: ...

    @property
    def image_size(self) -> int: ...

    def subset(self, indices: Tensor) -> Split: ...

    def limit(self, n: int | None, seed: int = 0) -> Split: ...

    def to(self, device: torch.device | str) -> Split: ...

    def train_batches(self, batch_size: int, generator: torch.Generator,
                      augment: tuple[str, ...] = (), crop_padding: int = 4) -> Iterator[Batch]: ...

    def eval_batches(self, batch_size: int) -> Iterator[Batch]: ...
