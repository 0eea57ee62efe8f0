"""Batched augmentation of uint8 image tensors: one gather per batch, no per-sample Python.

An augmented image is one of a finite set of *views* of its source image: a crop offset (dy, dx)
in the zero-padded image and, with ``flip``, whether it is mirrored. ``random_views`` draws each
image's view as an int64 id, ``apply_views`` renders it; the ids let a teacher's logits of every
view be computed once (``kdbench.engine.view_bank``) and served by (index, view).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def crop_side(augment: tuple[str, ...], padding: int) -> int:
    """The crop offsets along each axis: ``2 * padding + 1``, or 1 without a crop."""
    return 2 * padding + 1 if "crop" in augment and padding > 0 else 1


def view_count(augment: tuple[str, ...], padding: int) -> int:
    """How many distinct views of an image ``augment`` can make."""
    return crop_side(augment, padding) ** 2 * (2 if "flip" in augment else 1)


def random_views(n: int, augment: tuple[str, ...], padding: int, generator: torch.Generator) -> Tensor:
    """Each of ``n`` images' view id, on the CPU: the crop offsets (dy, then dx) and the flips drawn
    from ``generator`` in that order (the draws of every kdbench version since 0.1)."""
    side, flips = crop_side(augment, padding), 2 if "flip" in augment else 1
    dy = dx = torch.zeros(n, dtype=torch.int64)
    if side > 1:
        dy = torch.randint(0, side, (n,), generator=generator)
        dx = torch.randint(0, side, (n,), generator=generator)
    flip = (torch.rand(n, generator=generator) < 0.5).long() if flips == 2 else torch.zeros_like(dy)
    return (dy * side + dx) * flips + flip


def apply_views(images: Tensor, views: Tensor, augment: tuple[str, ...], padding: int) -> Tensor:
    """``images`` (uint8 N, C, H, W) as the views ``views`` (N,) say: zero-padded by ``padding``,
    cropped back to size at each view's offset, mirrored where its flip bit is set."""
    side, flips = crop_side(augment, padding), 2 if "flip" in augment else 1
    views = views.to(images.device)
    offset, flip = views // flips, views % flips
    if side > 1:
        n, _, height, width = images.shape
        padded = F.pad(images, (padding,) * 4)
        rows = ((offset // side)[:, None] + torch.arange(height, device=images.device))[:, None, :, None]
        cols = ((offset % side)[:, None] + torch.arange(width, device=images.device))[:, None, None, :]
        batch = torch.arange(n, device=images.device)[:, None, None, None]
        channels = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
        images = padded[batch, channels, rows, cols]
    if flips == 2:
        images = torch.where(flip.bool()[:, None, None, None], images.flip(-1), images)
    return images


def random_crop(images: Tensor, padding: int, generator: torch.Generator) -> Tensor:
    """Zero-pad by ``padding`` and crop back to size at a random offset per image."""
    views = random_views(len(images), ("crop",), padding, generator)
    return apply_views(images, views, ("crop",), padding)


def random_flip(images: Tensor, generator: torch.Generator) -> Tensor:
    """Flip each image left-right with probability 1/2."""
    return apply_views(images, random_views(len(images), ("flip",), 0, generator), ("flip",), 0)


def normalize(images: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    """uint8 (N, C, H, W) to float32 with per-channel mean and std (given on the 0-1 scale)."""
    m = torch.tensor(mean, device=images.device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=images.device).view(1, -1, 1, 1)
    return (images.float() / 255.0 - m) / s
