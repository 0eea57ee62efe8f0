"""Runs: skip those already done, train teachers once, distill and evaluate the rest.

Each run is a pure function ``RunSpec -> RunResult``; the result is written atomically the moment
the run ends, so a sweep can be stopped and started again anywhere. Nothing trained is lost: the
output folders are checked to be writable before anything trains, and a run's epoch checkpoint is
deleted only once its student weights and its result file are on disk. A write that fails is a
one-line error (exit 2), never a failed result.
"""

from __future__ import annotations

import hashlib
import re
import time
import traceback
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import Tensor, nn

from kdbench.build import DataSource, build_distiller, build_model, count_parameters
from kdbench.data.split import Split
from kdbench.engine.evaluate import predict
from kdbench.engine.metrics import split_metrics
from kdbench.engine.train import fit
from kdbench.errors import KdbenchError
from kdbench.fileio import check_writable, move_aside, remove, write_bytes_atomic
from kdbench.loggers.group import LoggerGroup
from kdbench.machine import describe as describe_machine
from kdbench.plugins import PluginManager
from kdbench.progress import Progress
from kdbench.results import ResultStore, RunResult, provenance
from kdbench.specs import RunSpec
from kdbench.teachers import Teacher, TeacherCache, sha256_file
from kdbench.versions import distributions


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; a device of another form (auto, cpu, cuda, cuda:N, mps),
    or one this machine does not have, is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    match = re.fullmatch(r"cpu|mps|cuda(?::(\d+))?", name)
    if match is None:
        raise KdbenchError(f"--device {name!r}: use auto, cpu, cuda, cuda:N or mps")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise KdbenchError("--device cuda was asked for, but torch sees no CUDA device")
    if match.group(1) is not None and int(match.group(1)) >= torch.cuda.device_count():
        raise KdbenchError(f"--device {name}: torch sees {torch.cuda.device_count()} CUDA devices "
                           f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})")
    if name == "mps" and not torch.backends.mps.is_available():
        raise KdbenchError("--device mps was asked for, but torch sees no MPS device")
    return torch.device(name)


def describe(spec: RunSpec) -> str:
    teacher = f"{spec.teacher_label} -> " if spec.teacher_label else ""
    return f"{spec.method_label}: {teacher}{spec.student_label}, seed {spec.seed}"


def code_change(old: RunSpec, new: RunSpec) -> str:
    """What differs in the code that made ``old`` and would make ``new``: ``a@1 -> a@2``."""
    def code(spec: RunSpec) -> set[str]:
        return set(spec.code) | set(spec.teacher.code if spec.teacher else ())

    gone, added = sorted(code(old) - code(new)), sorted(code(new) - code(old))
    return f"{', '.join(gone) or 'nothing'} -> {', '.join(added) or 'nothing'}"


class Runner:
    """Executes runs in this process, one after another."""

    def __init__(self, pm: PluginManager, store: ResultStore, cache: Path, data: DataSource,
                 device: torch.device, rerun: bool = False, reuse_stale: bool = False,
                 loggers: LoggerGroup | None = None):
        self.pm, self.store, self.cache, self.data = pm, store, Path(cache), data
        self.device, self.rerun, self.reuse_stale = device, rerun, reuse_stale
        self.stale: list[RunResult] = []
        self.loggers = loggers or LoggerGroup()
        self.teachers = TeacherCache(self.cache, pm, data, device, self.loggers)
        self._teacher_logits: dict[tuple[str, str, str, int | None], Tensor] = {}

    def run(self, runs: list[RunSpec], progress: Progress) -> list[RunResult]:
        """Results of ``runs`` in order; finished ones are read back instead of run again."""
        results = []
        self.teachers.plan(spec.teacher for spec in runs if spec.teacher is not None)
        done = {} if self.rerun else {spec.run_id: result for spec in runs
                                      if (result := self._done(spec)) is not None}
        self.check_writable([spec for spec in runs if spec.run_id not in done])
        for spec in runs:
            result = done.get(spec.run_id)
            older = [] if self.rerun or result is not None or self.store.path(spec).exists() \
                else self.store.same_protocol(spec)
            if result is not None:
                progress.done(f"skipped (done) {describe(spec)}")
            elif older and self.reuse_stale:
                result = older[0]
                self.stale.append(result)
                progress.done(f"reused STALE result {describe(spec)}: made by other code "
                              f"({code_change(result.spec, spec)})")
            else:
                if older:
                    progress.say(f"running {describe(spec)} again: its result was made by other code "
                                 f"({code_change(older[0].spec, spec)}); --reuse-stale keeps it")
                result = self.execute(spec, progress)
                self.store.write(result)
                if result.ok:  # only now: the student and the result are on disk
                    remove(self._checkpoint(spec))
                progress.done(self._summary(result))
            results.append(result)
        return results

    def _provenance(self, spec: RunSpec) -> dict[str, Any]:
        code = spec.code + (spec.teacher.code if spec.teacher else ())
        return provenance(describe_machine(self.device), distributions(self.pm, code))

    def check_writable(self, todo: list[RunSpec]) -> None:
        """Stop, in one line, before anything trains when a run could not save what it trains."""
        if not todo:
            return
        check_writable(self.cache, "the cache folder (--cache-dir)")
        for folder in sorted({self.store.path(spec).parent for spec in todo}):
            check_writable(folder, "the results folder (--results)")

    def _done(self, spec: RunSpec) -> RunResult | None:
        """The finished result of ``spec``, unless its kept student is not the one it reports (then
        the student is moved aside and the run is done again)."""
        result = self.store.get(spec)
        if result is None or not result.ok:
            return None
        student = self._student_path(spec)
        if student.exists() and result.student_sha256 and sha256_file(student) != result.student_sha256:
            move_aside(student, f"its sha256 is not the one result {spec.run_id} reports")
            return None
        return result

    def _checkpoint(self, spec: RunSpec) -> Path:
        return self.cache / "runs" / f"{spec.run_id}.pt"

    def _student_path(self, spec: RunSpec) -> Path:
        return self.store.path(spec).with_suffix(".safetensors")

    def execute(self, spec: RunSpec, progress: Progress) -> RunResult:
        """One run; an exception inside it becomes a failed result, a user error propagates."""
        began = time.perf_counter()
        try:
            return self._execute(spec, progress, began)
        except (KdbenchError, KeyboardInterrupt):
            raise
        except Exception as error:
            reason = f"{type(error).__name__}: {error}".splitlines()[0]
            progress.say(f"run {spec.run_id} failed:\n{traceback.format_exc()}")
            return RunResult(run_id=spec.run_id, spec=spec, status="failed", reason=reason,
                             timing={"wall_s": time.perf_counter() - began},
                             provenance=self._provenance(spec))

    def _execute(self, spec: RunSpec, progress: Progress, began: float) -> RunResult:
        train = self.data.training(spec.distill_data, spec.dataset, spec.train_limit)
        test = self.data.evaluation(spec.dataset, spec.test_limit)
        teacher = None
        if spec.teacher is not None:  # expand gives a teacher only to methods that need one
            bar = None if self.teachers.has(spec.teacher) else progress.epochs(
                f"teacher {spec.teacher_label}, seed {spec.teacher.seed}",
                spec.teacher.recipe.epochs * spec.teacher.ensemble)
            teacher = self.teachers.get(spec.teacher, bar)
            if teacher.trained_s:
                progress.say(f"trained teacher {spec.teacher_label} (seed {spec.teacher.seed}) in "
                             f"{teacher.trained_s:.1f} s")
        torch.manual_seed(spec.seed)
        student = build_model(self.pm, spec.student, test)
        distiller = build_distiller(self.pm, spec.method, student,
                                    teacher.model if teacher else None)
        checkpoint = self._checkpoint(spec)
        fit_began = time.perf_counter()
        with self.loggers.student(spec, progress.epochs(describe(spec), spec.recipe.epochs)) as on_epoch:
            history = fit(distiller, train, spec.recipe, spec.seed, self.device, test=test,
                          checkpoint=checkpoint, on_epoch=on_epoch)
        train_s = time.perf_counter() - fit_began
        metrics = {name: self._metrics(student, teacher, spec, name, split)
                   for name, split in (("test", test), ("train", train))}
        student_sha256 = self._save_student(spec, distiller)
        images = sum(entry["images"] for entry in history)  # all epochs, each timed when it ran
        epochs_s = sum(entry["seconds"] for entry in history)
        return RunResult(
            run_id=spec.run_id, spec=spec, status="ok", metrics=metrics, history=history,
            teacher_id=teacher.teacher_id if teacher else None,
            teacher_sha256=teacher.sha256 if teacher else None, student_sha256=student_sha256,
            teacher_params=count_parameters(teacher.model) if teacher else None,
            student_params=count_parameters(student),
            timing={"wall_s": time.perf_counter() - began, "train_s": train_s,
                    "images_per_s": images / max(epochs_s, 1e-9)},
            provenance=self._provenance(spec))

    def _save_student(self, spec: RunSpec, distiller: nn.Module) -> str:
        """Keep the trained student, with the method's own modules (a hint regressor, CRD's
        embeddings and memories), beside its result file as ``<run_id>.safetensors``, so a results
        folder carries what ``kdbench verify`` needs; its sha256."""
        path = self._student_path(spec)
        state = {name: tensor.detach().cpu().clone()
                 for name, tensor in distiller.student_state_dict().items()}
        data = safetensors.torch.save(state, metadata={"run_id": spec.run_id})
        write_bytes_atomic(path, data)
        return hashlib.sha256(data).hexdigest()

    def _metrics(self, student: nn.Module, teacher: Teacher | None, spec: RunSpec, name: str,
                 split: Split) -> dict[str, float | None]:
        batch = spec.recipe.eval_batch_size
        student_logits = predict(student, split, batch, self.device)
        teacher_logits = None
        if teacher is not None:
            data = spec.dataset if name == "test" else spec.distill_data
            limit = spec.test_limit if name == "test" else spec.train_limit
            key = (teacher.teacher_id, name, data.model_dump_json(), limit)
            if key not in self._teacher_logits:
                self._teacher_logits[key] = predict(teacher.model, split, batch, self.device)
            teacher_logits = self._teacher_logits[key]
        return split_metrics(student_logits, split.labels, teacher_logits, split.label_mask)

    @staticmethod
    def _summary(result: RunResult) -> str:
        if not result.ok:
            return f"FAILED {describe(result.spec)}: {result.reason}"
        test = result.metrics["test"]
        fidelity = f", agreement {test['agreement']:.1f}%" if test["agreement"] is not None else ""
        return (f"{describe(result.spec)}: test acc {test['student_acc']:.2f}%{fidelity} "
                f"({result.timing['wall_s']:.1f} s)")
