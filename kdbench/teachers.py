"""The teacher cache: every network is trained once, keyed by its id, and shared by every student
and method of every track that names the same teacher.

A teacher spec expands into members (one network, or N for an ensemble). Each member lives in
``<cache>/teachers/<member_id>/``: ``model.safetensors`` (the final weights), ``epoch-<E>.safetensors``
(checkpoints that early-stopped teachers use, saved while training the full member) and
``teacher.json`` (its spec, the weights' sha256, its history and timings).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from torch import Tensor, nn

from kdbench.build import DataSource, build_model, count_parameters
from kdbench.engine.train import EpochCallback, fit
from kdbench.fileio import atomic_path, write_text_atomic
from kdbench.loggers.group import LoggerGroup
from kdbench.methods.ce import CE, CEParams
from kdbench.plugins import PluginManager
from kdbench.specs import Ref, TeacherSpec


class Ensemble(nn.Module):
    """Averages the members' softmax and returns its log, which losses and metrics read as logits."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: Tensor) -> Tensor:
        log_probs = torch.stack([member(x).log_softmax(1) for member in self.members])
        return torch.logsumexp(log_probs, 0) - math.log(len(self.members))


@dataclass
class Teacher:
    """A trained teacher in eval mode, with the records of how its members were made."""

    model: nn.Module
    teacher_id: str
    sha256: str
    records: list[dict[str, Any]]
    trained_s: float = 0.0


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class TeacherCache:
    """Trains missing members with cross-entropy and loads cached ones."""

    def __init__(self, root: Path, pm: PluginManager, data: DataSource, device: torch.device,
                 loggers: LoggerGroup | None = None):
        self.root, self.pm, self.data, self.device = Path(root) / "teachers", pm, data, device
        self.loggers = loggers or LoggerGroup()
        self.snapshots: dict[str, set[int]] = {}
        self._loaded: tuple[str, Teacher] | None = None

    def plan(self, specs: Iterable[TeacherSpec]) -> None:
        """Note the checkpoints the coming runs need, so one training run saves them all."""
        for spec in specs:
            if spec.checkpoint_epoch is not None and spec.checkpoint_epoch < spec.recipe.epochs:
                for member in spec.members():
                    self.snapshots.setdefault(member.teacher_id, set()).add(spec.checkpoint_epoch)

    def weights(self, member: TeacherSpec, epoch: int | None) -> Path:
        folder = self.root / member.teacher_id
        if epoch is None or epoch >= member.recipe.epochs:
            return folder / "model.safetensors"
        return folder / f"epoch-{epoch}.safetensors"

    def has(self, spec: TeacherSpec) -> bool:
        return all(self.weights(m, spec.checkpoint_epoch).exists()
                   and (self.root / m.teacher_id / "teacher.json").exists() for m in spec.members())

    def get(self, spec: TeacherSpec, on_epoch: EpochCallback | None = None) -> Teacher:
        """The teacher of ``spec``, training the members that are not in the cache."""
        if self._loaded is not None and self._loaded[0] == spec.teacher_id:
            return replace(self._loaded[1], trained_s=0.0)
        models, records, shas, trained_s = [], [], [], 0.0
        for member in spec.members():
            path = self.weights(member, spec.checkpoint_epoch)
            if not path.exists() or not (path.parent / "teacher.json").exists():
                trained_s += self._train(member, on_epoch)
            record = json.loads((path.parent / "teacher.json").read_text(encoding="utf-8"))
            expected = record["sha256"].get(path.name)
            if expected is None or sha256_file(path) != expected:
                raise RuntimeError(f"teacher {member.teacher_id}: {path} does not match its sha256")
            model = build_model(self.pm, member.model, self._classes(member))
            load_model(model, path, device=str(self.device))
            models.append(model)
            records.append(record)
            shas.append(expected)
        model = models[0] if len(models) == 1 else Ensemble(models)
        sha = shas[0] if len(shas) == 1 else hashlib.sha256("".join(shas).encode()).hexdigest()
        teacher = Teacher(model.to(self.device).eval(), spec.teacher_id, sha, records, trained_s)
        self._loaded = (spec.teacher_id, teacher)
        return teacher

    def _classes(self, member: TeacherSpec):
        return self.data.evaluation(Ref(name=member.dataset.name, params=member.dataset.params))

    def _train(self, member: TeacherSpec, on_epoch: EpochCallback | None) -> float:
        """Train one member, saving its final weights and any planned checkpoints."""
        folder = self.root / member.teacher_id
        task = Ref(name=member.dataset.name, params=member.dataset.params)
        train = self.data.training(member.dataset, task, member.train_limit)
        began = time.perf_counter()
        torch.manual_seed(member.seed)
        model = build_model(self.pm, member.model, self._classes(member))
        wanted = self.snapshots.get(member.teacher_id, set())

        def save(path: Path) -> None:
            with atomic_path(path) as tmp:
                save_model(model, str(tmp))

        def after_epoch(epoch: int, entry: dict[str, Any]) -> None:
            if epoch + 1 in wanted:
                save(self.weights(member, epoch + 1))
            if on_epoch is not None:
                on_epoch(epoch, entry)

        with self.loggers.teacher(member, after_epoch) as logged:
            history = fit(CE(model, None, CEParams()), train, member.recipe, member.seed,
                          self.device, test=self.data.evaluation(task),
                          checkpoint=folder / "checkpoint.pt", on_epoch=logged)
        save(self.weights(member, None))
        seconds = time.perf_counter() - began
        saved = {path.name: sha256_file(path) for path in sorted(folder.glob("*.safetensors"))}
        record = {"teacher_id": member.teacher_id, "spec": member.model_dump(mode="json"),
                  "sha256": saved, "parameters": count_parameters(model), "history": history,
                  "wall_s": seconds}
        write_text_atomic(folder / "teacher.json", json.dumps(record, indent=1) + "\n")
        (folder / "checkpoint.pt").unlink(missing_ok=True)
        return seconds
