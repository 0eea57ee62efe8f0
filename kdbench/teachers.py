"""The teacher cache: every network is trained once, keyed by its id, and shared by every student
and method of every track that names the same teacher.

A teacher spec expands into members (one network, or N for an ensemble). Each member lives in
``<cache>/teachers/<member_id>/``: ``model.safetensors`` (the final weights), ``epoch-<E>.safetensors``
(snapshots of the run that ``snapshot_fraction`` teachers use, saved while it trains) and
``teacher.json`` (its spec, the weights' sha256, its history and timings; for a member loaded from
a checkpoint file, ``loaded_from`` with the file's sha256 and format instead). A ``teacher.json`` that
cannot be read, or weights that do not match their sha256, are moved aside (``<name>.corrupt``) with
a warning and the member is trained again.
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

import safetensors.torch
import torch
from safetensors.torch import load_model
from torch import Tensor, nn

from kdbench.build import build_model, count_parameters
from kdbench.checkpoints import load_weights
from kdbench.data.source import DataSource
from kdbench.data.split import Split
from kdbench.engine.step import DEFAULT_OPTIONS, EngineOptions
from kdbench.engine.teacher_logits import LogitsCache
from kdbench.engine.train import EpochCallback, fit
from kdbench.fileio import move_aside, remove, sha256_file, write_bytes_atomic, write_text_atomic
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


def member_weights(root: Path, member: TeacherSpec, epoch: int | None) -> Path:
    """Where a member's weights lie under ``root`` (``<cache>/teachers``): the final ones, or the
    snapshot after ``epoch`` epochs of a ``snapshot_fraction`` teacher."""
    folder = root / member.teacher_id
    if epoch is None or epoch >= member.recipe.epochs:
        return folder / "model.safetensors"
    return folder / f"epoch-{epoch}.safetensors"


def combined_sha256(shas: list[str]) -> str:
    """A teacher's sha256: its single member's, or the hash of an ensemble's members' in order."""
    return shas[0] if len(shas) == 1 else hashlib.sha256("".join(shas).encode()).hexdigest()


class TeacherCache:
    """Trains missing members with cross-entropy and loads cached ones; ``logits`` keeps their
    logits of whole splits (``kdbench.engine.teacher_logits``). ``engine`` says how teachers'
    steps run (memory format, ``torch.compile``), as for students."""

    def __init__(self, root: Path, pm: PluginManager, data: DataSource, device: torch.device,
                 loggers: LoggerGroup | None = None, engine: EngineOptions = DEFAULT_OPTIONS):
        self.root, self.pm, self.data, self.device = Path(root) / "teachers", pm, data, device
        self.engine = engine
        self.logits = LogitsCache(Path(root), device)
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
        return member_weights(self.root, member, epoch)

    def has(self, spec: TeacherSpec) -> bool:
        return all(self.weights(m, spec.checkpoint_epoch).exists()
                   and (self.root / m.teacher_id / "teacher.json").exists() for m in spec.members())

    def get(self, spec: TeacherSpec, on_epoch: EpochCallback | None = None) -> Teacher:
        """The teacher of ``spec``, training the members that are not in the cache (or whose
        files there are unreadable)."""
        if self._loaded is not None and self._loaded[0] == spec.teacher_id:
            return replace(self._loaded[1], trained_s=0.0)
        self.plan([spec])
        models, records, shas, trained_s = [], [], [], 0.0
        for member in spec.members():
            path = self.weights(member, spec.checkpoint_epoch)
            record = self._record(path)
            if record is None and member.checkpoint is not None:
                self._load(member)
                record = self._record(path)
            elif record is None:
                trained_s += self._train(member, on_epoch)
                record = self._record(path)
            if record is None:
                raise RuntimeError(f"teacher {member.teacher_id}: training did not leave {path}")
            model = build_model(self.pm, member.model, self._classes(member))
            load_model(model, path, device=str(self.device))
            models.append(model)
            records.append(record)
            shas.append(record["sha256"][path.name])
        model = models[0] if len(models) == 1 else Ensemble(models)
        sha = combined_sha256(shas)
        teacher = Teacher(model.to(self.device).eval(), spec.teacher_id, sha, records, trained_s)
        self._loaded = (spec.teacher_id, teacher)
        return teacher

    @staticmethod
    def _record(weights: Path) -> dict[str, Any] | None:
        """The ``teacher.json`` beside ``weights`` when both are there and match; None when the
        member must be trained (again), after moving an unreadable file aside."""
        path = weights.parent / "teacher.json"
        if not path.exists():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(record, dict) or not isinstance(record.get("sha256"), dict):
                raise ValueError("no sha256 table")
        except (ValueError, UnicodeDecodeError) as error:
            move_aside(path, f"not a teacher record: {str(error).splitlines()[0]}")
            return None
        if not weights.exists():
            return None
        expected = record["sha256"].get(weights.name)
        if expected is None:  # trained before this snapshot was planned
            return None
        if sha256_file(weights) != expected:
            move_aside(weights, f"its sha256 is not the {expected[:12]}... that {path.name} records")
            return None
        return record

    def _classes(self, member: TeacherSpec) -> Split:
        return self.data.evaluation(Ref(name=member.dataset.name, params=member.dataset.params))

    def _load(self, member: TeacherSpec) -> None:
        """Put a member's checkpoint file into the cache like a trained member: its weights in
        kdbench's names and a ``teacher.json`` that says it was loaded, from which sha256."""
        assert member.checkpoint is not None
        folder = self.root / member.teacher_id
        model = build_model(self.pm, member.model, self._classes(member))
        load_weights(member.checkpoint, model, self.pm, member.model)
        state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
        write_bytes_atomic(self.weights(member, None), safetensors.torch.save(state))
        saved = {path.name: sha256_file(path) for path in sorted(folder.glob("*.safetensors"))}
        record = {"teacher_id": member.teacher_id, "spec": member.model_dump(mode="json"),
                  "sha256": saved, "parameters": count_parameters(model),
                  "loaded_from": {"sha256": member.checkpoint.sha256,
                                  "format": member.checkpoint.format}}
        write_text_atomic(folder / "teacher.json", json.dumps(record, indent=1) + "\n")

    def _train(self, member: TeacherSpec, on_epoch: EpochCallback | None) -> float:
        """Train one member, saving its final weights and any planned checkpoints."""
        folder = self.root / member.teacher_id
        evaluated_on = Ref(name=member.dataset.name, params=member.dataset.params)
        train = self.data.training(member.dataset, evaluated_on, member.train_limit)
        began = time.perf_counter()
        torch.manual_seed(member.seed)
        model = build_model(self.pm, member.model, self._classes(member))
        wanted = self.snapshots.get(member.teacher_id, set())

        def save(path: Path) -> None:
            state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
            write_bytes_atomic(path, safetensors.torch.save(state))

        def snapshot(epoch: int) -> None:
            """Before the checkpoint that passes it: a resumed training could not make it again."""
            if epoch + 1 in wanted:
                save(self.weights(member, epoch + 1))

        with self.loggers.teacher(member, on_epoch) as logged:
            try:
                history = fit(CE(model, None, CEParams()), train, member.recipe, member.seed,
                              self.device, test=self.data.evaluation(evaluated_on),
                              checkpoint=folder / "checkpoint.pt", on_epoch=logged,
                              before_checkpoint=snapshot, options=self.engine)
            except FloatingPointError as error:
                raise FloatingPointError(
                    f"teacher {member.model.name} (seed {member.seed}, id {member.teacher_id}) "
                    f"diverged in its own training, before any student: {error}") from None
        save(self.weights(member, None))
        seconds = time.perf_counter() - began
        saved = {path.name: sha256_file(path) for path in sorted(folder.glob("*.safetensors"))}
        record = {"teacher_id": member.teacher_id, "spec": member.model_dump(mode="json"),
                  "sha256": saved, "parameters": count_parameters(model), "history": history,
                  "wall_s": seconds}
        write_text_atomic(folder / "teacher.json", json.dumps(record, indent=1) + "\n")
        remove(folder / "checkpoint.pt")
        return seconds
