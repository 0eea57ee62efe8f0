"""One test per hook (``test_hook_<name>``): a real entry-point plugin that implements the hook with
the public API only is loaded, lists its thing with its distribution, and keeps the contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from kdbench.cli import main
from kdbench.plugins import PluginManager
from kdbench.testing import check_dataset, check_method, check_model

METHODS = """
    from kdbench.plugin import Batch, Distiller, MethodInfo, NoParams, ce_loss, hookimpl

    KDBENCH_API = "1"

    class Plain(Distiller[NoParams]):
        def forward(self, batch: Batch, epoch: int):
            return {"ce": ce_loss(self.student(batch.images), batch.labels, batch.label_mask)}

    @hookimpl
    def kdbench_methods():
        return [MethodInfo("plain", "cross-entropy alone", Plain, needs_teacher=False, needs_labels=True)]
"""

MODELS = """
    from torch import nn
    from kdbench.plugin import ModelInfo, hookimpl

    class Tiny(nn.Module):
        feature_taps = {"conv": "body.0"}

        def __init__(self, in_channels, num_classes):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(in_channels, 4, 3, padding=1), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.head = nn.Linear(4, num_classes)

        def forward(self, images):
            return self.head(self.body(images))

    def build(name, params, *, in_channels, image_size, num_classes):
        return Tiny(in_channels, num_classes)

    @hookimpl
    def kdbench_models():
        return [ModelInfo("tiny", "a tiny convolution net", build, pattern=r"tiny-\\d+", example="tiny-1")]
"""

DATASETS = """
    import torch
    from kdbench.plugin import DatasetInfo, ImageTensors, hookimpl

    def load(params, split, *, root, download=False):
        n = 12 if split == "train" else 6
        images = (torch.arange(n * 16) % 256).to(torch.uint8).view(n, 1, 4, 4)
        return ImageTensors(images, torch.arange(n) % 3, num_classes=3, mean=(0.5,), std=(0.25,))

    @hookimpl
    def kdbench_datasets():
        return [DatasetInfo("ramp", "ramps of gray", load)]
"""

TRACKS = """
    from pathlib import Path
    from kdbench.plugin import TrackInfo, hookimpl

    @hookimpl
    def kdbench_tracks():
        return [TrackInfo("hooked", "a track from a plugin", Path({path!r}))]
"""

LOGGERS = """
    from kdbench.plugin import LoggerInfo, hookimpl

    class Memory:
        def __init__(self, params, run):
            self.run, self.epochs = run, []

        def log_epoch(self, epoch, record):
            self.epochs.append(epoch)

        def close(self):
            pass

    @hookimpl
    def kdbench_loggers():
        return [LoggerInfo("memory", "epochs kept in memory", Memory)]
"""

EXECUTORS = """
    from kdbench.plugin import ExecutorInfo, LocalReporter, Params, execute, hookimpl

    class Order(Params):
        reverse: bool = False

    class InOrder:
        def __init__(self, params):
            self.params = params

        def run(self, jobs, context, view):
            teachers = [job for job in jobs if job.key.startswith("teacher:")]
            runs = [job for job in jobs if job.key.startswith("run:")]
            for job in teachers + (runs[::-1] if self.params.reverse else runs):
                yield execute(job, context, LocalReporter(view.progress, job.key))

    @hookimpl
    def kdbench_executors():
        return [ExecutorInfo("in-order", "teachers, then the runs, in this process", InOrder, Order)]
"""

PROBES = """
    import torch
    from kdbench.plugin import ProbeInfo, hookimpl

    @torch.no_grad()
    def flip(student, teacher, reference, split, params, *, device, generator):
        same = total = 0
        for batch in split.eval_batches(64):
            images = batch.images.to(device)
            same += int((student(images).argmax(1) == student(images.flip(-1)).argmax(1)).sum())
            total += len(images)
        return {"student": 100.0 * same / total}

    @hookimpl
    def kdbench_probes():
        return [ProbeInfo("flip", "agreement under a horizontal flip", flip, {"student": "%"})]
"""


def loaded(install, source: str, kind: str) -> PluginManager:
    """A strict plugin manager with the plugin ``source`` installed as distribution kdbench-hooks."""
    install("kdbench-hooks", {f"kdbench_hooks_{kind}": source}, {"hooks": f"kdbench_hooks_{kind}"})
    pm = PluginManager(strict=True)
    pm.load_entrypoints()
    return pm


def listed(kind: str, name: str, capsys: pytest.CaptureFixture[str]) -> bool:
    assert main(["list", kind]) == 0
    return re.search(rf"^{name}\b.*\skdbench-hooks$", capsys.readouterr().out, re.MULTILINE) is not None


def test_hook_kdbench_methods(install, capsys) -> None:
    pm = loaded(install, METHODS, "methods")
    assert pm.methods.find("plain").distribution == "kdbench-hooks 0.1"
    check_method("plain", pm=pm)
    assert listed("methods", "plain", capsys)


def test_hook_kdbench_models(install, capsys) -> None:
    pm = loaded(install, MODELS, "models")
    assert pm.models.find("tiny-7").plugin == "hooks"
    check_model("tiny-3", pm=pm, in_channels=1, image_size=8, num_classes=3)
    assert listed("models", "tiny", capsys)


def test_hook_kdbench_datasets(install, capsys, tmp_path: Path) -> None:
    pm = loaded(install, DATASETS, "datasets")
    check_dataset("ramp", root=tmp_path, pm=pm)
    assert listed("datasets", "ramp", capsys)


def test_hook_kdbench_tracks(install, capsys, tiny_track, tmp_path: Path) -> None:
    path = tmp_path / "hooked.yaml"
    path.write_text(yaml.safe_dump({**tiny_track, "name": "hooked"}, sort_keys=False), encoding="utf-8")
    pm = loaded(install, TRACKS.format(path=str(path)), "tracks")
    assert pm.tracks.get("hooked").path == path
    assert listed("tracks", "hooked", capsys)
    assert main(["show", "hooked"]) == 0 and "name: hooked" in capsys.readouterr().out


def test_hook_kdbench_loggers(install, capsys) -> None:
    pm = loaded(install, LOGGERS, "loggers")
    info = pm.loggers.get("memory")
    logger = info.factory(info.Params(), "a run")
    logger.log_epoch(0, None)
    assert logger.epochs == [0] and logger.run == "a run"
    assert listed("loggers", "memory", capsys)


def test_hook_kdbench_executors(install, capsys, tiny_track, write_track, tmp_path: Path) -> None:
    pm = loaded(install, EXECUTORS, "executors")
    assert pm.executors.find("in-order").distribution == "kdbench-hooks 0.1"
    assert listed("executors", "in-order", capsys)
    tiny_track["seeds"] = [0]
    code = main(["run", "--spec", str(write_track(tiny_track)), "--budget", "smoke", "--executor",
                 "in-order", "--executor-opt", "reverse=true", "--results", str(tmp_path / "r"),
                 "--cache-dir", str(tmp_path / "c"), "--device", "cpu"])
    assert code == 0
    results = list((tmp_path / "r").rglob("*.json"))
    assert results and all('"status": "ok"' in path.read_text() for path in results)


def test_hook_kdbench_probes(install, capsys) -> None:
    import torch

    from kdbench.data.tensors import ImageTensors

    pm = loaded(install, PROBES, "probes")
    info = pm.probes.get("flip")
    images = torch.tensor([[[[0, 255]]], [[[255, 255]]]], dtype=torch.uint8)
    split = ImageTensors(images, torch.tensor([0, 1]), num_classes=2, mean=(0.0,), std=(1.0,))
    student = torch.nn.Flatten()  # logits = the two pixels: the first image's flips, the second's not
    values = info.factory(student, student, None, split, info.Params(), device=torch.device("cpu"),
                          generator=torch.Generator())
    assert values == {"student": 50.0}
    assert listed("probes", "flip", capsys)
    assert main(["show", "probe", "flip"]) == 0 and "student  %" in capsys.readouterr().out
