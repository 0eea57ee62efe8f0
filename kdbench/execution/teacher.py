"""Teacher networks in a shared cache: each is trained once, by whichever runner takes its lock
first, with every early-stopped checkpoint asked of it; the others find it cached."""

from __future__ import annotations

from typing import Any

from kdbench.engine.train import EpochCallback
from kdbench.execution.context import Worker
from kdbench.execution.events import Reporter
from kdbench.execution.locks import held
from kdbench.execution.planner import snapshot
from kdbench.specs import TeacherSpec


def train_member(worker: Worker, member: TeacherSpec, snapshots: tuple[int, ...], label: str,
                 report: Reporter, wait: bool = True) -> float | None:
    """Train one teacher network unless the cache has it, intact, with ``snapshots``: the seconds
    it took (0 when it was cached), or None when another process holds its lock and ``wait`` is
    false. Its epoch bar opens only if it trains."""
    specs = [member.model_copy(update={"checkpoint_epoch": epoch}) for epoch in (None, *snapshots)]
    bar: EpochCallback | None = None

    def on_epoch(epoch: int, entry: dict[str, Any]) -> None:
        nonlocal bar
        if bar is None:
            bar = report.epochs(f"teacher {label}, seed {member.seed}", member.recipe.epochs)
        bar(epoch, entry)

    with held(worker.context.cache, "teacher", member.teacher_id, wait) as mine:
        if not mine:
            return None
        worker.teachers.plan(specs)
        return sum(worker.teachers.get(spec, on_epoch).trained_s for spec in specs)


def ensure_teacher(worker: Worker, teacher: TeacherSpec, label: str, report: Reporter) -> float:
    """Make sure every member of ``teacher`` is cached with the early stop it needs; the seconds
    spent training those that were not (normally none: teacher jobs ran first)."""
    seconds = 0.0
    for member in teacher.members():
        seconds += train_member(worker, member, snapshot(teacher), label, report) or 0.0
    return seconds
