"""The teacher cache: each teacher is trained once, keyed by its teacher id, and shared by every
student and method of every track that names the same teacher spec.

Layout: ``<cache>/teachers/<teacher_id>/model.safetensors`` and ``teacher.json`` (its spec,
the weights' sha256, its training history and timings).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from torch import nn

from kdbench.build import DataSource, build_model, count_parameters
from kdbench.engine.train import EpochCallback, fit
from kdbench.fileio import atomic_path, write_text_atomic
from kdbench.methods.ce import CE, CEParams
from kdbench.plugins import PluginManager
from kdbench.specs import TeacherSpec


@dataclass
class Teacher:
    """A trained teacher in eval mode, with the record of how it was made."""

    model: nn.Module
    teacher_id: str
    sha256: str
    record: dict[str, Any]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class TeacherCache:
    """Trains missing teachers with cross-entropy and loads cached ones."""

    def __init__(self, root: Path, pm: PluginManager, data: DataSource, device: torch.device):
        self.root, self.pm, self.data, self.device = Path(root) / "teachers", pm, data, device
        self._loaded: dict[str, Teacher] = {}

    def folder(self, spec: TeacherSpec) -> Path:
        return self.root / spec.teacher_id

    def has(self, spec: TeacherSpec) -> bool:
        return (self.folder(spec) / "teacher.json").exists()

    def get(self, spec: TeacherSpec, on_epoch: EpochCallback | None = None) -> Teacher:
        """The teacher of ``spec``, trained now if it is not in the cache."""
        teacher_id = spec.teacher_id
        if teacher_id not in self._loaded:
            if not self.has(spec):
                self._train(spec, on_epoch)
            self._loaded = {teacher_id: self._load(spec)}  # keep one in memory
        return self._loaded[teacher_id]

    def _load(self, spec: TeacherSpec) -> Teacher:
        folder = self.folder(spec)
        record = json.loads((folder / "teacher.json").read_text(encoding="utf-8"))
        weights = folder / "model.safetensors"
        if sha256_file(weights) != record["sha256"]:
            raise RuntimeError(f"teacher {spec.teacher_id}: {weights} does not match its sha256")
        model = build_model(self.pm, spec.model, self.data.split(spec.dataset, "train",
                                                                  spec.train_limit))
        load_model(model, weights, device=str(self.device))
        return Teacher(model.to(self.device).eval(), spec.teacher_id, record["sha256"], record)

    def _train(self, spec: TeacherSpec, on_epoch: EpochCallback | None) -> None:
        folder = self.folder(spec)
        train = self.data.split(spec.dataset, "train", spec.train_limit)
        test = self.data.split(spec.dataset, "test")
        began = time.perf_counter()
        torch.manual_seed(spec.seed)
        model = build_model(self.pm, spec.model, train)
        checkpoint = folder / "checkpoint.pt"
        history = fit(CE(model, None, CEParams()), train, spec.recipe, spec.seed, self.device,
                      test=test, checkpoint=checkpoint, on_epoch=on_epoch)
        weights = folder / "model.safetensors"
        with atomic_path(weights) as tmp:
            save_model(model.cpu(), str(tmp))
        record = {"teacher_id": spec.teacher_id, "spec": spec.model_dump(mode="json"),
                  "sha256": sha256_file(weights), "parameters": count_parameters(model),
                  "history": history, "wall_s": time.perf_counter() - began}
        write_text_atomic(folder / "teacher.json", json.dumps(record, indent=1) + "\n")
        checkpoint.unlink(missing_ok=True)
