"""One run: distill a student from its (cached) teacher, evaluate it, keep its weights.

``run(spec, worker, report)`` is a function ``RunSpec -> RunResult`` that any process can call;
``kdbench.execution`` decides which runs to make and where. Each epoch is checkpointed, so an
interrupted run resumes from its last epoch. A write that fails is a one-line error (exit 2),
never a failed result.
"""

from __future__ import annotations

import hashlib
import re
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import nn

from kdbench.build import build_distiller, build_model, count_parameters
from kdbench.cost import method_parameters
from kdbench.data.split import Split
from kdbench.data.tensors import ImageTensors
from kdbench.engine.evaluate import predict
from kdbench.engine.metrics import split_metrics
from kdbench.engine.precision import autocast
from kdbench.engine.teacher_logits import LogitsTable, can_serve
from kdbench.engine.train import fit
from kdbench.engine.view_bank import ViewBank, can_bank, why_not_bank
from kdbench.errors import KdbenchError
from kdbench.execution.context import Worker
from kdbench.execution.events import Reporter
from kdbench.execution.planner import student_path
from kdbench.execution.teacher import ensure_teacher
from kdbench.fileio import write_bytes_atomic
from kdbench.machine import describe as describe_machine
from kdbench.methods import Distiller
from kdbench.results import RunResult, provenance
from kdbench.specs import RunSpec
from kdbench.teachers import Teacher
from kdbench.versions import code_version, distributions


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; a device of another form (auto, cpu, cuda, cuda:N, mps),
    or one this machine does not have, is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    match = re.fullmatch(r"cpu|mps|cuda(?::(\d+))?", name)
    if match is None:
        raise KdbenchError(f"--device {name!r}: use auto, cpu, cuda, cuda:N or mps")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise KdbenchError(f"--device {name} was asked for, but torch sees no CUDA device")
    if match.group(1) is not None and int(match.group(1)) >= torch.cuda.device_count():
        raise KdbenchError(f"--device {name}: torch sees {torch.cuda.device_count()} CUDA devices "
                           f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})")
    if name == "mps" and not torch.backends.mps.is_available():
        raise KdbenchError("--device mps was asked for, but torch sees no MPS device")
    return torch.device(name)


def describe(spec: RunSpec) -> str:
    teacher = f"{spec.teacher_label} -> " if spec.teacher_label else ""
    return f"{spec.method_label}: {teacher}{spec.student_label}, seed {spec.seed}"


def checkpoint_path(cache: Path, spec: RunSpec) -> Path:
    """The last epoch of an unfinished run, which a new attempt resumes from."""
    return Path(cache) / "runs" / f"{spec.run_id}.pt"


def make_view_bank(spec: RunSpec, worker: Worker, report: Reporter) -> float:
    """Make the view bank that ``spec``'s run would serve its teacher from, for the runs that
    share it: the seconds that took, 0 when the cache had it or none can serve that run."""
    return _Run(spec, worker, report, view_bank=True).make_view_bank()


def run(spec: RunSpec, worker: Worker, report: Reporter, view_bank: bool = False) -> RunResult:
    """One run; an exception inside it becomes a failed result, a user error propagates.
    ``view_bank``: on augmented data, serve a logits method's teacher from its view bank."""
    return _Run(spec, worker, report, view_bank).result()


class _Run:
    """The steps of one run, sharing the spec, the process's worker and where to report."""

    def __init__(self, spec: RunSpec, worker: Worker, report: Reporter, view_bank: bool = False):
        self.spec, self.worker, self.report, self.view_bank = spec, worker, report, view_bank
        self.bank_made = False
        self.pm, self.data, self.device = worker.pm, worker.data, worker.device

    def result(self) -> RunResult:
        spec, began = self.spec, time.perf_counter()
        try:
            return self._execute(began)
        except (KdbenchError, KeyboardInterrupt):
            raise
        except Exception as error:
            reason = f"{type(error).__name__}: {error}".splitlines()[0]
            self.report.say(f"run {spec.run_id} failed:\n{traceback.format_exc()}")
            return RunResult(run_id=spec.run_id, spec=spec, status="failed", reason=reason,
                             timing={"wall_s": time.perf_counter() - began},
                             provenance=self._provenance())

    def _provenance(self) -> dict[str, Any]:
        spec = self.spec
        code = spec.code + (spec.teacher.code if spec.teacher else ())
        return provenance(describe_machine(self.device), distributions(self.pm, code))

    def make_view_bank(self) -> float:
        """Make the view bank this run would serve its teacher from: the seconds it took, 0 when
        the cache has it or none can serve the run (its method reads more than logits)."""
        train = self.data.training(self.spec.distill_data, self.spec.dataset, self.spec.train_limit)
        teacher = self._teacher()
        if teacher is None:
            return 0.0
        _, distiller = self._distiller(teacher, self.data.evaluation(self.spec.dataset, self.spec.test_limit))
        if why_not_bank(distiller, self.spec.recipe, train) is not None:
            return 0.0
        assert isinstance(train, ImageTensors)  # why_not_bank says so
        began = time.perf_counter()
        self._bank(teacher, train)
        return time.perf_counter() - began if self.bank_made else 0.0

    def _teacher(self) -> Teacher | None:
        """The run's teacher, trained first if no teacher job has (None for a method without)."""
        spec = self.spec
        if spec.teacher is None:  # expand gives a teacher only to methods that need one
            return None
        trained_s = ensure_teacher(self.worker, spec.teacher, str(spec.teacher_label), self.report)
        if trained_s:
            self.report.say(f"trained teacher {spec.teacher_label}, seed {spec.teacher.seed} "
                            f"in {trained_s:.1f} s")
        return self.worker.teachers.get(spec.teacher)

    def _distiller(self, teacher: Teacher | None, test: Split) -> tuple[nn.Module, Distiller]:
        """A freshly initialized student (seeded by the run's seed) and the method around it."""
        torch.manual_seed(self.spec.seed)
        student = build_model(self.pm, self.spec.student, test)
        return student, build_distiller(self.pm, self.spec.method, student,
                                        teacher.model if teacher else None)

    def _execute(self, began: float) -> RunResult:
        spec = self.spec
        train = self.data.training(spec.distill_data, spec.dataset, spec.train_limit)
        test = self.data.evaluation(spec.dataset, spec.test_limit)
        teacher = self._teacher()
        student, distiller = self._distiller(teacher, test)
        if teacher is not None and any(distiller.uses_teacher(epoch) for epoch in range(spec.recipe.epochs)):
            self._serve_teacher(distiller, teacher, train)
        checkpoint = checkpoint_path(self.worker.context.cache, spec)
        fit_began = time.perf_counter()
        bar = self.report.epochs(describe(spec), spec.recipe.epochs)
        with self.worker.loggers.student(spec, bar) as on_epoch:
            history = fit(distiller, train, spec.recipe, spec.seed, self.device, test=test,
                          checkpoint=checkpoint, on_epoch=on_epoch, group=self.worker.context.group,
                          options=self.worker.context.engine)
        train_s = time.perf_counter() - fit_began
        metrics = {name: self._metrics(student, teacher, name, split)
                   for name, split in (("test", test), ("train", train))}
        student_sha256 = self._save_student(distiller)
        images = sum(entry["images"] for entry in history)  # all epochs, each timed when it ran
        epochs_s = sum(entry["seconds"] for entry in history)
        return RunResult(
            run_id=spec.run_id, spec=spec, status="ok", metrics=metrics, history=history,
            teacher_id=teacher.teacher_id if teacher else None,
            teacher_sha256=teacher.sha256 if teacher else None, student_sha256=student_sha256,
            teacher_params=count_parameters(teacher.model) if teacher else None,
            student_params=count_parameters(student), method_params=method_parameters(distiller),
            timing={"wall_s": time.perf_counter() - began, "train_s": train_s,
                    "images_per_s": images / max(epochs_s, 1e-9)},
            provenance=self._provenance())

    def _serve_teacher(self, distiller: Distiller, teacher: Teacher, train: Split) -> None:
        """The teacher's logits from its cache where they can stand in for the live teacher:
        a table on unaugmented data, a view bank on augmented data when the plan asks for one."""
        if can_serve(distiller, self.spec.recipe):
            logits = self._teacher_logits(teacher, "train", train)
            distiller.teacher_source = LogitsTable(logits.to(self.device))
        elif self.view_bank and can_bank(distiller, self.spec.recipe, train):
            assert isinstance(train, ImageTensors)  # can_bank says so
            distiller.teacher_source = ViewBank(self._bank(teacher, train).to(self.device))

    def _bank(self, teacher: Teacher, train: ImageTensors) -> torch.Tensor:
        """The teacher's view bank of ``train`` under the run's augmentation, from the teacher's
        cache (made there first if no run or bank job has made it)."""
        assert self.spec.teacher is not None
        return self.worker.teachers.logits.views(
            teacher, self.spec.teacher.members()[0].teacher_id, train, self._identity("train"),
            self.spec.recipe, self.spec.recipe.eval_batch_size, self._bank_progress)

    def _bank_progress(self, views: int) -> Callable[[int], None]:
        """A bar of the views of the view bank being made for this run's teacher (asked for
        only when the bank is made, not read)."""
        self.bank_made = True
        bar = self.report.epochs(f"view bank of {self.spec.teacher_label}: {views} views", views)
        return lambda view: bar(view, {})

    def _save_student(self, distiller: Distiller) -> str:
        """Keep the trained student, with the method's own modules (a hint regressor, CRD's
        embeddings and memories), beside its result file as ``<run_id>.safetensors``, so a results
        folder carries what ``kdbench verify`` needs; its sha256."""
        spec = self.spec
        path = student_path(self.worker.store, spec)
        state = {name: tensor.detach().cpu().clone()
                 for name, tensor in distiller.student_state_dict().items()}
        data = safetensors.torch.save(state, metadata={"run_id": spec.run_id})
        if self.worker.context.writes:  # under torchrun, rank 0 alone
            write_bytes_atomic(path, data)
        return hashlib.sha256(data).hexdigest()

    def _metrics(self, student: nn.Module, teacher: Teacher | None, name: str,
                 split: Split) -> dict[str, float | None]:
        with autocast(self.spec.recipe.precision, self.device):  # evaluated as it was trained
            student_logits = predict(student, split, self.spec.recipe.eval_batch_size, self.device)
        teacher_logits = self._teacher_logits(teacher, name, split) if teacher is not None else None
        return split_metrics(student_logits, split.labels, teacher_logits, split.label_mask)

    def _teacher_logits(self, teacher: Teacher, name: str, split: Split) -> torch.Tensor:
        """The teacher's logits of the ``test`` or ``train`` (distillation) split, from the
        teacher's logits cache, which any run of the teacher on the same data shares."""
        spec = self.spec
        assert spec.teacher is not None
        return self.worker.teachers.logits.get(teacher, spec.teacher.members()[0].teacher_id, name, split,
                                               self._identity(name), spec.recipe.eval_batch_size)

    def _identity(self, name: str) -> dict[str, Any]:
        """What made the ``test`` or ``train`` split: the key of its teacher logits in the cache."""
        spec = self.spec
        data = spec.dataset if name == "test" else spec.distill_data
        return {"data": data.model_dump(mode="json", exclude={"labels"}),
                "evaluated_on": spec.dataset.model_dump(mode="json"),
                "limit": spec.test_limit if name == "test" else spec.train_limit,
                "code": code_version(self.pm, "datasets", data.name)}


def summary(result: RunResult) -> str:
    """A finished run in one line: its test accuracy and agreement, or why it failed."""
    if not result.ok:
        return f"FAILED {describe(result.spec)}: {result.reason}"
    test = result.metrics["test"]
    fidelity = f", agreement {test['agreement']:.1f}%" if test["agreement"] is not None else ""
    return (f"{describe(result.spec)}: test acc {test['student_acc']:.2f}%{fidelity} "
            f"({result.timing['wall_s']:.1f} s)")
