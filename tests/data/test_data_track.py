"""A tiny CIFAR-10 track run end to end through the command line on tiny pickles."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from kdbench.cli import main

TRACK = """\
name: tiny-cifar10
title: A tiny CIFAR-10 track for the tests
dataset: {name: cifar10}
teachers:
  - {label: mlp-32, model: {name: mlp, params: {hidden: [32]}}}
students:
  - {label: mlp-8, model: {name: mlp, params: {hidden: [8]}}}
methods:
  - {name: ce}
  - {name: kd, params: {ce_weight: 0.5, kd_weight: 0.5, temperature: 4}}
teacher_recipe: {epochs: 3, batch_size: 4, eval_batch_size: 8, lr: 0.01, augment: [crop, flip]}
student_recipe: {epochs: 3, batch_size: 4, eval_batch_size: 8, lr: 0.01, augment: [crop, flip]}
seeds: [0, 1]
budgets:
  full: {}
  smoke:
    teacher: {epochs: 1}
    student: {epochs: 1}
    train_limit: 12
    seeds: [0]
"""


def run(tmp_path: Path, data: Path, dataset: str = "cifar10") -> int:
    spec = tmp_path / "tiny-cifar10.yaml"
    spec.write_text(TRACK.replace("{name: cifar10}", f"{{name: {dataset}}}"), encoding="utf-8")
    return main(["run", "--spec", str(spec), "--budget", "smoke", "--device", "cpu",
                 "--data-dir", str(data), "--results", str(tmp_path / "results"),
                 "--cache-dir", str(tmp_path / "cache")])


def test_track_runs_on_tiny_cifar10_files(tmp_path, write_cifar, capsys):
    write_cifar(tmp_path / "data")
    assert run(tmp_path, tmp_path / "data") == 0
    assert len(list((tmp_path / "results" / "tiny-cifar10" / "smoke").glob("*.json"))) == 2
    assert "error" not in capsys.readouterr().err


def test_track_without_data_exits_2_with_one_line(tmp_path, capsys):
    assert run(tmp_path, tmp_path / "nowhere") == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("kdbench: error:")]
    assert len(errors) == 1 and "Traceback" not in err
    assert "cifar10" in errors[0] and str(tmp_path / "nowhere" / "cifar-10-batches-py") in errors[0]
    assert "--download" in errors[0]


def test_track_streams_tiny_imagenet_folder(tmp_path, capsys):
    for split in ("train", "val"):
        for label, wnid in enumerate(("n01440764", "n01443537")):
            (tmp_path / "data" / "imagenet" / split / wnid).mkdir(parents=True)
            for i in range(4):
                Image.new("RGB", (32, 24), (200 * label, 50, 100)).save(
                    tmp_path / "data" / "imagenet" / split / wnid / f"{i}.JPEG")
    assert run(tmp_path, tmp_path / "data", "imagenet") == 0
    assert "error" not in capsys.readouterr().err
