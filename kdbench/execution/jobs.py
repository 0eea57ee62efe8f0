"""The units of work of a sweep: train one teacher network, or make one run. Both are plain,
picklable data; everything a job needs that is not on disk is in it."""

from __future__ import annotations

from dataclasses import dataclass

from kdbench.data.augment import view_count
from kdbench.results import RunResult
from kdbench.specs import RunSpec, TeacherSpec


@dataclass(frozen=True)
class TeacherJob:
    """Train one teacher network (an ensemble's member) and save its final weights and its
    weights after each epoch in ``snapshots``, the early stops that the sweep's students need."""

    teacher: TeacherSpec
    snapshots: tuple[int, ...]
    label: str

    @property
    def key(self) -> str:
        return f"teacher:{self.teacher.teacher_id}"

    @property
    def epochs(self) -> int:
        return self.teacher.recipe.epochs

    @property
    def needs(self) -> tuple[str, ...]:
        return ()

    def describe(self) -> str:
        if self.teacher.checkpoint is not None:
            return f"teacher {self.label}, loaded from checkpoint {self.teacher.checkpoint.sha256[:12]}"
        return f"teacher {self.label}, seed {self.teacher.seed}"


@dataclass(frozen=True)
class RunJob:
    """Make one run: train its student (after the teacher jobs in ``needs``), write its result.
    ``older`` says why a result made by other code is not reused, when there is one; ``seen`` is
    the modification time (ns) of the result file that the planner did not accept, if any: a
    different one is another runner's. ``view_bank``: its teacher's logits may come from a view
    bank, which the sweep's runs of that teacher share."""

    spec: RunSpec
    needs: tuple[str, ...] = ()
    older: str | None = None
    seen: int | None = None
    view_bank: bool = False

    @property
    def key(self) -> str:
        return f"run:{self.spec.run_id}"

    @property
    def epochs(self) -> int:
        return self.spec.recipe.epochs

    def describe(self) -> str:
        spec = self.spec
        teacher = f"{spec.teacher_label} -> " if spec.teacher_label else ""
        return f"{spec.method_label}: {teacher}{spec.student_label}, seed {spec.seed}"


@dataclass(frozen=True)
class BankJob:
    """Make the view bank that ``runs`` runs of one teacher share (its logits of every view of
    every training image), after the teacher's jobs, so that the runs wait for it in the DAG
    instead of in a worker; ``spec`` is one of those runs: the bank is made as it would make it."""

    spec: RunSpec
    bank: str
    runs: int
    needs: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"bank:{self.bank}"

    @property
    def epochs(self) -> int:
        return 0

    def describe(self) -> str:
        recipe = self.spec.recipe
        views = view_count(recipe.augment, recipe.crop_padding)
        return (f"view bank of teacher {self.spec.teacher_label}: {views} views of each training "
                f"image, for {self.runs} run{'' if self.runs == 1 else 's'}")


Job = TeacherJob | BankJob | RunJob


@dataclass(frozen=True)
class Outcome:
    """What a job ended with: a run's result (``None`` for a teacher or bank), the seconds spent
    training a teacher or making a bank (0 when another runner had made it), whether another
    runner made it, and why a teacher or bank failed (a teacher's runs then fail with the reason,
    each in its own result; a bank's make it themselves)."""

    key: str
    result: RunResult | None = None
    trained_s: float = 0.0
    elsewhere: bool = False
    reason: str | None = None
