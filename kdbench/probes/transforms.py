"""Image transforms for invariance probes, on pixels in [0, 1] (N, C, H, W), and the conversion
between a split's normalized inputs and pixels."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

COLOUR_FOREGROUND = (0.4, 1.0)  # each channel of a digit's colour, uniform in this range
COLOUR_BACKGROUND = (0.0, 0.4)  # each channel of the background's colour


def to_pixels(images: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    """Normalized inputs back to pixels in [0, 1]."""
    shape = (1, -1, 1, 1)
    return images * torch.tensor(std, device=images.device).view(shape) \
        + torch.tensor(mean, device=images.device).view(shape)


def to_inputs(pixels: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    """Pixels in [0, 1] to a network's normalized inputs."""
    shape = (1, -1, 1, 1)
    return (pixels - torch.tensor(mean, device=pixels.device).view(shape)) \
        / torch.tensor(std, device=pixels.device).view(shape)


def rotate(pixels: Tensor, degrees: float) -> Tensor:
    """Rotated counter-clockwise by ``degrees`` about the centre (bilinear, zeros outside)."""
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=pixels.dtype,
                         device=pixels.device).expand(len(pixels), 2, 3)
    grid = F.affine_grid(theta, list(pixels.shape), align_corners=False)
    return F.grid_sample(pixels, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def translate(pixels: Tensor, shift: int) -> Tensor:
    """Moved ``shift`` pixels right and down (left and up when negative), zeros filling in."""
    if shift == 0:
        return pixels.clone()
    n = abs(shift)
    padded = F.pad(pixels, (n, n, n, n))
    height, width = pixels.shape[-2:]
    start = n - shift
    return padded[..., start:start + height, start:start + width].contiguous()


def contrast(pixels: Tensor, factor: float) -> Tensor:
    """Contrast scaled by ``factor`` about each image's mean intensity, clipped to [0, 1]."""
    mean = pixels.mean(dim=(1, 2, 3), keepdim=True)
    return ((pixels - mean) * factor + mean).clamp(0, 1)


def colourize(pixels: Tensor, generator: torch.Generator) -> Tensor:
    """Grey images (any channel count; their channel mean is the intensity) as 3-channel colour
    images: intensity 1 takes a random foreground colour and 0 a darker random background colour,
    drawn per image from ``generator`` (on the CPU)."""
    intensity = pixels.mean(dim=1, keepdim=True)
    count = len(pixels)
    low, high = COLOUR_FOREGROUND
    foreground = low + (high - low) * torch.rand(count, 3, 1, 1, generator=generator)
    low, high = COLOUR_BACKGROUND
    background = low + (high - low) * torch.rand(count, 3, 1, 1, generator=generator)
    foreground, background = foreground.to(pixels), background.to(pixels)
    return intensity * foreground + (1 - intensity) * background
