"""Images per second: batched uint8 augmentation against torchvision's per-sample transforms."""

from __future__ import annotations

import time

import torch
from torchvision.transforms import v2

from kdbench.data.augment import normalize, random_crop, random_flip


def batched(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return normalize(random_flip(random_crop(images, 4, generator), generator), (0.5,) * 3, (0.25,) * 3)


def per_sample(images: torch.Tensor, transform: v2.Transform) -> torch.Tensor:
    return torch.stack([transform(image) for image in images])


def rate(fn, images: torch.Tensor, repeats: int = 5) -> float:
    fn(images)
    began = time.perf_counter()
    for _ in range(repeats):
        fn(images)
    return repeats * len(images) / (time.perf_counter() - began)


def main() -> None:
    images = torch.randint(0, 256, (4096, 3, 32, 32), dtype=torch.uint8)
    generator = torch.Generator().manual_seed(0)
    transform = v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip(),
                            v2.ToDtype(torch.float32, scale=True), v2.Normalize((0.5,) * 3, (0.25,) * 3)])
    fast = rate(lambda x: batched(x, generator), images)
    slow = rate(lambda x: per_sample(x, transform), images, repeats=1)
    print(f"batched: {fast:,.0f} images/s; per-sample torchvision: {slow:,.0f} images/s; "
          f"{fast / slow:.1f}x")


if __name__ == "__main__":
    main()
