"""``kdbench verify`` for probe values: a run's probe record is recomputed from the kept weights
of its student, its teacher and its reference student, and each value compared."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from kdbench.data.source import DataSource
from kdbench.plugins import PluginManager
from kdbench.probes.measure import measure
from kdbench.probes.store import ProbeStore
from kdbench.results import InvalidResult, ResultStore, RunResult
from kdbench.specs import TeacherSpec
from kdbench.verify import Mismatch, load_student, load_teacher, student_weights

PERCENT_POINTS = 2.0  # a share of the teacher's errors or fooling images counts a few hundred images
RELATIVE = 1e-3


def close(unit: str, recorded: float | None, value: float | None) -> bool:
    """Whether a recomputed probe value holds: within 2 points for percentages, 1e-3 otherwise."""
    if recorded is None or value is None:
        return recorded is value
    if unit == "%":
        return abs(recorded - value) <= PERCENT_POINTS
    return math.isclose(recorded, value, rel_tol=RELATIVE, abs_tol=RELATIVE)


def teacher_of(teacher_id: str, results: list[RunResult]) -> tuple[TeacherSpec, str | None] | None:
    """The spec and weights digest of the teacher ``teacher_id``, from a result that used it."""
    for result in results:
        teacher = result.spec.teacher
        if teacher is not None and teacher.teacher_id == teacher_id:
            return teacher, result.teacher_sha256
    return None


def check_probes(pm: PluginManager, result: RunResult, store: ResultStore, results: list[RunResult],
                 data: DataSource, device: torch.device, folders: list[Path]) -> bool:
    """Recompute ``result``'s probe record; False when it has none. Its teacher's or reference's
    weights that are missing, or a value that differs, are a ``Mismatch``."""
    try:
        record = ProbeStore(store.root).read(result.spec)
    except InvalidResult as error:
        raise Mismatch(f"probe record {error.reason}") from None
    if record is None:
        return False
    spec = result.spec
    found = teacher_of(record.teacher_id, results)
    if found is None:
        raise Mismatch(f"probe record: no result names its teacher {record.teacher_id}")
    teacher = next((model for model in (load_teacher(pm, found[0], folder, data, found[1])
                                        for folder in folders) if model is not None), None)
    if teacher is None:
        raise Mismatch(f"probe record: the weights of teacher {record.teacher_id} were not found")
    splits = {"test": data.evaluation(spec.dataset, spec.test_limit),
              "train": data.training(spec.distill_data, spec.dataset, spec.train_limit)}
    student = load_student(pm, result, student_weights(store.path(spec)), splits["test"])
    reference = None
    if record.reference_run_id is not None:
        partner = next((r for r in results if r.run_id == record.reference_run_id), None)
        if partner is None:
            raise Mismatch(f"probe record: its reference run {record.reference_run_id} is not here")
        reference = load_student(pm, partner, student_weights(store.path(partner.spec)), splits["test"])
    values, units = measure(pm, list(record.probes), student, teacher, reference, splits, device, spec.seed)
    for split, named in values.items():
        for name, value in named.items():
            recorded = record.values.get(split, {}).get(name)
            if not close(units[name], recorded, value):
                raise Mismatch(f"probe {split} {name} is {recorded} in its record but {value} recomputed")
    return True
