"""Shared pieces of the method tests: tiny in-memory data, LeNet-5 pairs, and smoke runs of the
quickstart track through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from kdbench import cli
from kdbench.data import Batch, ImageTensors
from kdbench.models.lenet import LeNet5
from kdbench.plugins import get_plugin_manager


def tiny_data(n: int = 48, classes: int = 4, size: int = 16, seed: int = 0) -> ImageTensors:
    """Random uint8 images with balanced labels, small enough for a unit test."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, size, size), dtype=torch.uint8, generator=generator)
    labels = torch.arange(n) % classes
    return ImageTensors(images, labels, num_classes=classes, mean=(0.5,), std=(0.25,))


def first_batch(data: ImageTensors, size: int = 16, seed: int = 0) -> Batch:
    return next(data.train_batches(size, torch.Generator().manual_seed(seed)))


def lenet_pair(data: ImageTensors, student_width: float = 0.5,
               teacher_width: float = 1.0) -> tuple[LeNet5, LeNet5]:
    torch.manual_seed(0)
    make = lambda width: LeNet5(data.in_channels, data.image_size, data.num_classes, width)  # noqa: E731
    return make(student_width), make(teacher_width)


class RaisingTeacher(torch.nn.Module):
    """A teacher that fails the test if anything runs it."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        raise AssertionError("the teacher was called")


def smoke_track(folder: Path, method: dict) -> Path:
    """The quickstart track with one LeNet-5 teacher and ``method`` only, written to ``folder``."""
    quickstart = get_plugin_manager().tracks.get("quickstart").path
    track = yaml.safe_load(quickstart.read_text(encoding="utf-8"))
    track["teachers"] = [t for t in track["teachers"] if t["model"]["name"] == "lenet5"][:1]
    track["methods"] = [method]
    track.pop("contrasts", None)  # they name the track's own methods
    path = folder / f"smoke-{method['name']}.yaml"
    path.write_text(yaml.safe_dump(track, sort_keys=False), encoding="utf-8")
    return path


def run_smoke(track: Path, results: Path, cache: Path) -> list[dict]:
    """Run ``track`` at the smoke budget; assert exit 0 and return its result files' contents."""
    code = cli.main(["run", "--spec", str(track), "--budget", "smoke", "--results", str(results),
                     "--cache-dir", str(cache), "--device", "cpu"])
    assert code == 0
    files = sorted((results / "quickstart" / "smoke").glob("*.json"))
    assert files, "no result file was written"
    return [json.loads(path.read_text(encoding="utf-8")) for path in files]


@pytest.fixture(scope="session")
def teacher_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for every smoke run of the session, so the teacher is trained once."""
    return tmp_path_factory.mktemp("kdbench-cache")
