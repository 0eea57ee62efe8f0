"""The plain PyTorch KD loop that KD codebases run, as the baseline of ``compare.py``.

What RepDistiller's ``train_distill`` and similar trainers do, written for this project: a
map-style ``Dataset`` that turns each uint8 image into a PIL image and runs torchvision's
per-sample transforms (``RandomCrop(padding=4)``, ``RandomHorizontalFlip``, ``ToTensor``,
``Normalize``), a shuffling ``DataLoader`` with worker processes, the teacher's forward on every
step, fp32, NCHW, SGD. The networks are kdbench's (the same models ``kdbench bench`` builds), so
only the loop differs. Prints images/s of steady-state steps (``--json``: one object).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from kdbench import paths
from kdbench.bench.data import synthetic, training_split
from kdbench.bench.refs import parse_ref
from kdbench.build import build_model
from kdbench.data.tensors import ImageTensors
from kdbench.plugins import get_plugin_manager


class ImageDataset(Dataset[tuple[Tensor, int]]):
    """uint8 images (N, C, H, W) served one at a time through PIL, as torchvision's CIFAR10 does."""

    def __init__(self, images: Tensor, labels: Tensor, transform: transforms.Compose):
        self.images = images.permute(0, 2, 3, 1).numpy()  # HWC, as the data sets store them
        self.labels = labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        image = self.images[i]
        picture = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
        return self.transform(picture), self.labels[i]


def transform_for(augment: tuple[str, ...], size: int, mean: tuple[float, ...],
                  std: tuple[float, ...]) -> transforms.Compose:
    steps: list[object] = []
    if "crop" in augment:
        steps.append(transforms.RandomCrop(size, padding=4))
    if "flip" in augment:
        steps.append(transforms.RandomHorizontalFlip())
    return transforms.Compose([*steps, transforms.ToTensor(), transforms.Normalize(mean, std)])


def kd_loss(student: Tensor, teacher: Tensor, temperature: float) -> Tensor:
    """RepDistiller's DistillKL: KL(softmax(t/T) || softmax(s/T)) * T^2, batch mean."""
    log_p_s = F.log_softmax(student / temperature, dim=1)
    p_t = F.softmax(teacher / temperature, dim=1)
    return F.kl_div(log_p_s, p_t, reduction="batchmean") * temperature**2


def forever(loader: DataLoader[tuple[Tensor, int]]) -> Iterator[tuple[Tensor, Tensor]]:
    while True:
        yield from loader


def measure(teacher: nn.Module, student: nn.Module, loader: DataLoader[tuple[Tensor, int]],
            device: torch.device, steps: int, warmup: int) -> list[float]:
    """Seconds of each of ``steps`` steps (loading the batch included) after ``warmup`` steps."""
    teacher.to(device).eval()
    student.to(device).train()
    optimizer = torch.optim.SGD(student.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    batches, times = forever(loader), []
    for i in range(warmup + steps):
        began = time.perf_counter()
        images, labels = next(batches)
        images, labels = images.to(device), labels.to(device)
        with torch.no_grad():
            teacher_logits = teacher(images)
        logits = student(images)
        loss = 0.1 * F.cross_entropy(logits, labels) + 0.9 * kd_loss(logits, teacher_logits, 4.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - began)
    return times


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", required=True)
    p.add_argument("--student", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--augment", default="crop,flip", help="crop,flip, crop, flip or none")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                   help="DataLoader worker processes (default: one per CPU, at most 8)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--synthetic", action="store_true")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    augment = () if args.augment == "none" else tuple(args.augment.split(","))
    pm = get_plugin_manager()
    torch.manual_seed(0)
    data = (synthetic(args.dataset, args.batch_size * 4) if args.synthetic
            else training_split(pm, args.dataset, paths.data_dir()))
    assert isinstance(data, ImageTensors), "the reference loop reads in-memory data sets"
    teacher = build_model(pm, parse_ref(args.teacher, "--teacher"), data)
    student = build_model(pm, parse_ref(args.student, "--student"), data)
    dataset = ImageDataset(data.images, data.labels,
                           transform_for(augment, data.image_size, data.mean, data.std))
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True, drop_last=True,
                        num_workers=args.workers, persistent_workers=args.workers > 0)
    times = measure(teacher, student, loader, torch.device(args.device), args.steps, args.warmup)
    result = {"images_per_s": args.steps * args.batch_size / sum(times),
              "step_s_median": statistics.median(times), "workers": args.workers,
              "threads": torch.get_num_threads(), "torch": torch.__version__}
    print(json.dumps(result) if args.json else
          f"reference KD loop: {result['images_per_s']:,.0f} images/s "
          f"({args.workers} workers, {torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
