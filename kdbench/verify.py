"""``kdbench verify``: re-evaluate result files from the weights they name, so an edited number is
caught. The student's weights (beside the result file) and the teacher's (``<cache>/teachers/`` or
another folder laid out the same way) must match the sha256 that the result records; every metric
of both splits is then recomputed and compared within a tolerance.
"""

from __future__ import annotations

import math
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from kdbench.build import build_model
from kdbench.data.source import DataSource
from kdbench.data.split import Split
from kdbench.engine.evaluate import predict
from kdbench.engine.metrics import split_metrics
from kdbench.engine.precision import autocast
from kdbench.errors import DataNotFoundError, KdbenchError
from kdbench.plugins import PluginManager
from kdbench.results import ResultStore, RunResult
from kdbench.specs import PERCENT, TeacherSpec
from kdbench.teachers import Ensemble, combined_sha256, member_weights, sha256_file


class Mismatch(Exception):
    """A result that its weights do not reproduce, or whose weights are missing or altered."""


@dataclass
class Report:
    """How many results held, failed, or could not be checked here."""

    failed: int = 0
    verified: int = 0
    skipped: int = 0

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def summary(self) -> str:
        return (f"verify: {self.verified} verified, {self.failed} failed, {self.skipped} skipped "
                "(data not available here)")


def tolerance(metric: str, examples: int) -> float:
    """How far a recomputed metric may differ: two examples' worth for percentages (another CPU or
    GPU may flip a near-tie), 1e-3 relative plus 1e-4 for KL and NLL."""
    return 200.0 / examples if metric in PERCENT else 1e-4


def close(metric: str, recorded: float, value: float, examples: int) -> bool:
    return math.isclose(recorded, value, rel_tol=0 if metric in PERCENT else 1e-3,
                        abs_tol=tolerance(metric, examples))


def student_weights(result_path: Path) -> Path:
    """The kept student, beside its result file."""
    path = result_path.with_suffix(".safetensors")
    if not path.is_file():
        raise Mismatch(f"no student weights: {path.name} is not beside it")
    return path


def load_student(pm: PluginManager, result: RunResult, path: Path, test: Split) -> nn.Module:
    """The student network of ``result`` with the weights in ``path`` after its sha256 check."""
    if result.student_sha256 is None or sha256_file(path) != result.student_sha256:
        raise Mismatch(f"{path.name} does not match the result's student_sha256")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise Mismatch(f"{path.name} cannot be read ({error})") from None
    model = build_model(pm, result.spec.student, test)
    student = {name.removeprefix("student."): tensor for name, tensor in state.items()
               if name.startswith("student.")}
    try:
        model.load_state_dict(student, strict=True)
    except RuntimeError as error:
        raise Mismatch(f"{path.name} does not fit the student "
                       f"({str(error).splitlines()[0]})") from None
    return model


def teacher_files(spec: TeacherSpec, folder: Path) -> list[Path]:
    """The weight files of ``spec``'s members in ``folder`` (laid out like ``<cache>/teachers``)."""
    return [member_weights(folder, member, spec.checkpoint_epoch) for member in spec.members()]


def copy_teacher(spec: TeacherSpec, source: Path, target: Path) -> None:
    """Copy the weights (and ``teacher.json``) of ``spec``'s members from ``source`` to ``target``,
    to ship them beside published results."""
    for path in teacher_files(spec, source):
        destination = target / path.parent.name
        destination.mkdir(parents=True, exist_ok=True)
        for file in (path, path.parent / "teacher.json"):
            if file.is_file():
                shutil.copyfile(file, destination / file.name)


def load_teacher(pm: PluginManager, spec: TeacherSpec, folder: Path, data: DataSource,
                 expected_sha256: str | None) -> nn.Module | None:
    """The teacher of ``spec`` from ``folder`` (laid out like ``<cache>/teachers``), or None when
    its files are not there; weights that do not match the recorded sha256 are a mismatch."""
    models, shas = [], []
    for member, path in zip(spec.members(), teacher_files(spec, folder), strict=True):
        if not path.is_file():
            return None
        shas.append(sha256_file(path))
        model = build_model(pm, member.model, data.evaluation(member.dataset))
        try:
            model.load_state_dict(load_file(str(path)), strict=True)
        except (SafetensorError, RuntimeError) as error:
            raise Mismatch(f"teacher weights {path} cannot be loaded "
                           f"({str(error).splitlines()[0]})") from None
        models.append(model)
    if combined_sha256(shas) != expected_sha256:
        raise Mismatch("the teacher's weights do not match the result's teacher_sha256")
    return models[0] if len(models) == 1 else Ensemble(models)


def check(pm: PluginManager, result: RunResult, path: Path, data: DataSource,
          device: torch.device, teachers: list[Path], copy_to: Path | None = None) -> bool:
    """Recompute ``result``'s metrics on both splits; whether the teacher's and the fidelity
    metrics were checked too (False: its weights were not found). A difference is ``Mismatch``."""
    spec, teacher = result.spec, None
    if spec.teacher is not None:
        for folder in teachers:
            teacher = load_teacher(pm, spec.teacher, folder, data, result.teacher_sha256)
            if teacher is not None:
                if copy_to is not None and folder.resolve() != Path(copy_to).resolve():
                    copy_teacher(spec.teacher, folder, Path(copy_to))
                teacher = teacher.to(device)
                break
    splits = {"test": data.evaluation(spec.dataset, spec.test_limit),
              "train": data.training(spec.distill_data, spec.dataset, spec.train_limit)}
    student = load_student(pm, result, student_weights(path), splits["test"])
    batch = spec.recipe.eval_batch_size
    for split, examples in splits.items():
        with autocast(spec.recipe.precision, device):  # evaluated as the run evaluated it
            student_logits = predict(student.to(device), examples, batch, device)
        teacher_logits = None
        if teacher is not None and spec.teacher is not None:
            with autocast(spec.teacher.recipe.precision, device):
                teacher_logits = predict(teacher, examples, batch, device)
        values = split_metrics(student_logits, examples.labels, teacher_logits, examples.label_mask)
        for name, value in values.items():
            recorded = result.metrics[split].get(name)
            if value is not None and recorded is not None and not close(name, recorded, value,
                                                                         len(examples)):
                raise Mismatch(f"{split} {name} is {recorded:g} in the file but {value:g} recomputed")
    return spec.teacher is None or teacher is not None


def verify_results(pm: PluginManager, root: Path, cache: Path, data: DataSource,
                   device: torch.device, teachers: Path | None = None, track: str | None = None,
                   sample: int | None = None, seed: int = 0, copy_teachers: Path | None = None,
                   allow_missing_teachers: bool = False,
                   say: Callable[[str], object] = print) -> Report:
    """Check the results under ``root`` (all, or ``sample`` drawn with ``seed``); with
    ``copy_teachers``, copy the teacher weights that the checks used into that folder. A result
    whose teacher's weights are not found fails, unless ``allow_missing_teachers``."""
    from kdbench.probes.verify import check_probes

    store, report = ResultStore(root), Report()
    scan = store.scan(track)
    for error in scan.rejected:
        report.failed += 1
        say(f"FAILED {error.path}: {error.reason}")
    finished = [result for result in scan.results if result.ok]
    if sample is not None and sample < len(finished):
        finished = random.Random(seed).sample(finished, sample)
    folders = [folder for folder in (teachers, Path(cache) / "teachers") if folder is not None]
    for result in finished:
        path = store.path(result.spec)
        try:
            complete = check(pm, result, path, data, device, folders, copy_teachers)
            probed = complete and check_probes(pm, result, store, scan.results, data, device, folders)
        except DataNotFoundError as error:
            report.skipped += 1
            say(f"skipped {path}: {str(error).splitlines()[0]}")
            continue
        except (Mismatch, KdbenchError) as error:
            report.failed += 1
            say(f"FAILED {path}: {error}")
            continue
        if not complete and not allow_missing_teachers:
            report.failed += 1
            say(f"FAILED {path}: the teacher's weights were not found (in {', '.join(map(str, folders))}), "
                "so its fidelity and teacher metrics cannot be checked (--allow-missing-teachers "
                "checks the student's own)")
            continue
        report.verified += 1
        say(f"ok {path}: every metric of both splits holds{' and so do its probe values' if probed else ''}"
            if complete else
            f"ok {path}: the student's own metrics hold; the teacher's weights were not found")
    return report
