"""Teacher networks in a shared cache: each is trained once, by whichever runner takes its lock
first, with every early-stopped checkpoint asked of it; the others find it cached."""

from __future__ import annotations

from kdbench.execution.context import Worker
from kdbench.execution.events import Reporter
from kdbench.execution.locks import held
from kdbench.execution.planner import snapshot
from kdbench.specs import TeacherSpec


def train_member(worker: Worker, member: TeacherSpec, snapshots: tuple[int, ...], label: str,
                 report: Reporter, wait: bool = True) -> float | None:
    """Train one teacher network unless the cache has it with ``snapshots``: the seconds it took
    (0 when it was cached), or None when another process holds its lock and ``wait`` is false."""
    specs = [member.model_copy(update={"checkpoint_epoch": epoch}) for epoch in (None, *snapshots)]
    with held(worker.context.cache, "teacher", member.teacher_id, wait) as mine:
        if not mine:
            return None
        worker.teachers.plan(specs)
        missing = [spec for spec in specs if not worker.teachers.has(spec)]
        if not missing:
            return 0.0
        bar = report.epochs(f"teacher {label}, seed {member.seed}", member.recipe.epochs)
        return worker.teachers.get(missing[0], bar).trained_s


def ensure_teacher(worker: Worker, teacher: TeacherSpec, label: str, report: Reporter) -> float:
    """Make sure every member of ``teacher`` is cached with the early stop it needs; the seconds
    spent training those that were not (normally none: teacher jobs ran first)."""
    seconds = 0.0
    for member in teacher.members():
        seconds += train_member(worker, member, snapshot(teacher), label, report) or 0.0
    return seconds
