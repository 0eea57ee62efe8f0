"""Which examples a split keeps and which an epoch visits, shared by in-memory and streamed splits."""

from __future__ import annotations

import torch
from torch import Tensor


def limit_indices(size: int, n: int | None, seed: int = 0) -> Tensor | None:
    """The sorted positions of a fixed random sample of ``n`` of ``size`` examples (the same for
    every run), or None when ``n`` keeps them all."""
    if n is None or n >= size:
        return None
    return torch.randperm(size, generator=torch.Generator().manual_seed(seed))[:n].sort().values


def epoch_stop(size: int, batch_size: int) -> int:
    """How many of ``size`` shuffled examples an epoch uses: a last partial batch is dropped when
    a full one exists (batch norm cannot train on one example)."""
    return size - size % batch_size if size >= batch_size else size
