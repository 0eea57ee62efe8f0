"""The benchmark scripts run (a few steps), so that they do not rot between measurements."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
TINY = ["--teacher", "mlp(hidden=[32])", "--student", "mlp(hidden=[8])", "--dataset", "digits",
        "--batch-size", "32", "--steps", "2", "--warmup", "1"]


@pytest.mark.slow
def test_the_reference_loop_trains_and_reports_images_per_s(monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "argv", ["reference_kd.py", *TINY, "--workers", "0", "--json"])
    runpy.run_path(str(BENCHMARKS / "reference_kd.py"), run_name="__main__")
    result = json.loads(capsys.readouterr().out)
    assert result["images_per_s"] > 0 and result["workers"] == 0


def test_the_reference_loop_transforms_each_image_as_torchvision_data_sets_do() -> None:
    import torch

    reference = runpy.run_path(str(BENCHMARKS / "reference_kd.py"))
    images = torch.randint(0, 256, (3, 1, 8, 8), dtype=torch.uint8)
    transform = reference["transform_for"]((), 8, (0.0,), (1.0,))
    dataset = reference["ImageDataset"](images, torch.tensor([0, 1, 2]), transform)
    image, label = dataset[1]
    assert label == 1 and torch.allclose(image, images[1].float() / 255)


@pytest.mark.slow
def test_compare_runs_both_sides_and_prints_the_ratio_of_medians() -> None:
    done = subprocess.run([sys.executable, str(BENCHMARKS / "compare.py"), *TINY, "--repeats", "1",
                           "--augment", "none", "--reference-arg=--workers=0"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("repeat 1: reference ") and "kdbench" in lines[0]
    assert "ratio of medians" in lines[-1]
