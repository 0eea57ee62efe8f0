"""What the built-in probes share: batches of a split on a device, and percentages."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from kdbench.data.split import Split

BATCH = 500


def batches(split: Split, device: torch.device) -> Iterator[tuple[Tensor, Tensor]]:
    """The split's normalized images and labels on ``device``, in order, without augmentation."""
    for batch in split.eval_batches(BATCH):
        yield batch.images.to(device), batch.labels.to(device)


def percent(count: float, total: int) -> float | None:
    """``100 * count / total``, or None when nothing was counted (the value is undefined)."""
    return 100.0 * count / total if total else None
