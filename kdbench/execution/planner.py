"""The planner: the runs of a track become a DAG of jobs. Finished runs, and teachers whose
weights are in the cache, are not jobs; every other teacher network is one job that states every
early-stopped checkpoint the sweep's students need, and comes before the runs that need it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from tabulate import tabulate

from kdbench.engine.step import ViewBankChoice
from kdbench.engine.view_bank import worth_banking
from kdbench.execution.jobs import BankJob, Job, RunJob, TeacherJob
from kdbench.fileio import move_aside
from kdbench.results import ResultStore, RunResult
from kdbench.specs import RunSpec, TeacherSpec
from kdbench.teachers import member_weights, sha256_file


@dataclass
class Plan:
    """The jobs of a sweep in an order that respects their dependencies, and the runs that need
    no job: ``done`` (finished, read back) and ``stale`` (made by other code, reused)."""

    runs: list[RunSpec]
    jobs: list[Job] = field(default_factory=list)
    done: dict[str, RunResult] = field(default_factory=dict)
    stale: dict[str, RunResult] = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        """Epochs left to train, at most (a resumed run trains fewer)."""
        return sum(job.epochs for job in self.jobs)

    def summary(self) -> str:
        teachers = sum(isinstance(job, TeacherJob) for job in self.jobs)
        banks = sum(isinstance(job, BankJob) for job in self.jobs)
        loaded = sum(isinstance(job, TeacherJob) and job.teacher.checkpoint is not None
                     for job in self.jobs)
        trained = teachers - loaded
        loads = f", {loaded} to load from checkpoints" if loaded else ""
        made = f", {banks} view bank{'' if banks == 1 else 's'} to make" if banks else ""
        return (f"{len(self.runs)} runs: {len(self.done)} done, {len(self.stale)} reused stale, "
                f"{len(self.jobs) - teachers - banks} to run; {trained} teacher network"
                f"{'' if trained == 1 else 's'} to train{loads}{made}; {len(self.jobs)} jobs, "
                f"{self.epochs} epochs")

    def table(self) -> str:
        """The DAG, one job a row: its key, what it trains, its epochs and the jobs it waits for."""
        rows = []
        for job in self.jobs:
            what = job.describe()
            if isinstance(job, TeacherJob) and job.snapshots:
                what += f" (also keeps epoch {', '.join(map(str, job.snapshots))})"
            if isinstance(job, RunJob) and job.older:
                what += f" (its old result was made by other code: {job.older})"
            if isinstance(job, RunJob) and job.view_bank:
                what += " (teacher logits from a view bank, where its method reads only them)"
            rows.append([job.key, what, job.epochs, ", ".join(job.needs) or "-"])
        return tabulate(rows, headers=["job", "trains", "epochs", "after"], tablefmt="simple")


def code_change(old: RunSpec, new: RunSpec) -> str:
    """What differs in the code that made ``old`` and would make ``new``: ``a@1 -> a@2``."""
    def code(spec: RunSpec) -> set[str]:
        return set(spec.code) | set(spec.teacher.code if spec.teacher else ())

    gone, added = sorted(code(old) - code(new)), sorted(code(new) - code(old))
    return f"{', '.join(gone) or 'nothing'} -> {', '.join(added) or 'nothing'}"


def student_path(store: ResultStore, spec: RunSpec) -> Path:
    """Where a run's trained student is kept: beside its result file."""
    return store.path(spec).with_suffix(".safetensors")


def finished(store: ResultStore, spec: RunSpec) -> RunResult | None:
    """The finished result of ``spec``, unless its kept student is not the one it reports (then
    the student is moved aside and the run is made again)."""
    result = store.get(spec)
    if result is None or not result.ok:
        return None
    student = student_path(store, spec)
    if student.exists() and result.student_sha256 and sha256_file(student) != result.student_sha256:
        move_aside(student, f"its sha256 is not the one result {spec.run_id} reports")
        return None
    return result


def modified(path: Path) -> int | None:
    """A file's modification time in ns, None when it is not there (or cannot be read: the
    output checks say why, before anything trains)."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def cached(cache: Path, member: TeacherSpec, epoch: int | None) -> bool:
    """Whether a teacher network's weights (after ``epoch`` epochs, or final) are in the cache."""
    root = Path(cache) / "teachers"
    record = root / member.teacher_id / "teacher.json"
    return member_weights(root, member, epoch).exists() and record.exists()


def snapshot(teacher: TeacherSpec) -> tuple[int, ...]:
    """The early stop a student of ``teacher`` needs, if any."""
    epoch = teacher.checkpoint_epoch
    return (epoch,) if epoch is not None and epoch < teacher.recipe.epochs else ()


def plan(runs: list[RunSpec], store: ResultStore, cache: Path, rerun: bool = False,
         reuse_stale: bool = False, view_bank: ViewBankChoice = "auto",
         logits_methods: frozenset[str] | None = None, unbankable: frozenset[str] = frozenset()) -> Plan:
    """The jobs that make ``runs``: the teacher jobs, the view banks, then the runs. ``view_bank``
    says which runs may take their teacher's logits from a view bank (see ``banked``);
    ``logits_methods`` names the methods that read only the teacher's logits (None: any may);
    ``unbankable`` the run ids whose training data can have no bank (streamed, or too large)."""
    result = Plan(list(runs))
    todo: list[RunJob] = []
    for spec in runs:
        done = None if rerun else finished(store, spec)
        if done is not None:
            result.done[spec.run_id] = done
            continue
        older = [] if rerun or store.path(spec).exists() else store.same_protocol(spec)
        if older and reuse_stale:
            result.stale[spec.run_id] = older[0]
            continue
        todo.append(RunJob(spec, older=code_change(older[0].spec, spec) if older else None,
                           seen=modified(store.path(spec))))
    teachers = teacher_jobs([job.spec for job in todo], cache)
    banks = banked([job.spec for job in todo if job.spec.run_id not in unbankable
                    and (logits_methods is None or job.spec.method.name in logits_methods)], view_bank)
    jobs = [replace(job, needs=teachers_of(job.spec, teachers), view_bank=job.spec.run_id in banks)
            for job in todo]
    bank_jobs = view_bank_jobs([job.spec for job in jobs if job.view_bank], teachers)
    jobs = [replace(job, needs=(*job.needs, key))
            if job.view_bank and (key := bank_job_key(job.spec)) in bank_jobs else job for job in jobs]
    result.jobs = [*critical_first(list(teachers.values()), jobs), *bank_jobs.values(), *jobs]
    return result


def teachers_of(spec: RunSpec, teachers: dict[str, TeacherJob]) -> tuple[str, ...]:
    """The keys of the teacher jobs that ``spec`` waits for."""
    return tuple(key for key in (f"teacher:{m.teacher_id}" for m in members(spec)) if key in teachers)


def bank_job_key(spec: RunSpec) -> str | None:
    """The key of the view bank job that ``spec`` would share with the runs of its teacher, data
    and augmentation (None without teacher or augmentation)."""
    key = bank_key(spec)
    return None if key is None else f"bank:{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def view_bank_jobs(specs: list[RunSpec], teachers: dict[str, TeacherJob]) -> dict[str, BankJob]:
    """One job per view bank that the banked runs ``specs`` share, after its teacher's jobs."""
    groups: dict[str, list[RunSpec]] = {}
    for spec in specs:
        key = bank_job_key(spec)
        if key is not None:
            groups.setdefault(key, []).append(spec)
    return {key: BankJob(group[0], key.removeprefix("bank:"), len(group), teachers_of(group[0], teachers))
            for key, group in groups.items()}


def critical_first(teachers: list[TeacherJob], runs: list[RunJob]) -> list[TeacherJob]:
    """Teacher jobs, those that hold up the most epochs of runs first (the longest path of the
    DAG starts there, so parallel executors start it first); ties keep their order."""
    waiting = {job.key: job.epochs + sum(run.epochs for run in runs if job.key in run.needs)
               for job in teachers}
    return sorted(teachers, key=lambda job: -waiting[job.key])


def bank_key(spec: RunSpec) -> str | None:
    """What runs sharing one view bank have in common: the teacher, the distillation data, its
    augmentation and the batch it is evaluated in (None for a run without teacher or augmentation)."""
    if spec.teacher is None or not spec.recipe.augment:
        return None
    return json.dumps([spec.teacher.teacher_id, spec.distill_data.model_dump(mode="json"), spec.train_limit,
                       spec.dataset.model_dump(mode="json"), list(spec.recipe.augment),
                       spec.recipe.crop_padding, spec.recipe.eval_batch_size], sort_keys=True)


def banked(specs: list[RunSpec], choice: ViewBankChoice) -> set[str]:
    """The run ids that may use a view bank: with ``auto``, those whose bank costs no more teacher
    forwards than the epochs of all the runs that share it (each run still checks that its method
    and data can use one); with ``on``, every run with a teacher on augmented data."""
    if choice == "off":
        return set()
    epochs: dict[str, int] = {}
    for spec in specs:
        key = bank_key(spec)
        if key is not None:
            epochs[key] = epochs.get(key, 0) + spec.recipe.epochs
    return {spec.run_id for spec in specs if (key := bank_key(spec)) is not None
            and (choice == "on" or worth_banking(spec.recipe, epochs[key]))}


def members(spec: RunSpec) -> list[TeacherSpec]:
    return spec.teacher.members() if spec.teacher is not None else []


def teacher_jobs(specs: list[RunSpec], cache: Path) -> dict[str, TeacherJob]:
    """One job per teacher network that ``specs`` need and the cache lacks (or lacks one of the
    early stops of), with every early stop that any of them needs."""
    wanted: dict[str, tuple[TeacherSpec, set[int], str]] = {}
    for spec in specs:
        if spec.teacher is None:
            continue
        for i, member in enumerate(spec.teacher.members()):
            label = str(spec.teacher_label)
            if spec.teacher.ensemble > 1:
                label += f" member {i + 1} of {spec.teacher.ensemble}"
            entry = wanted.setdefault(member.teacher_id, (member, set(), label))
            entry[1].update(snapshot(spec.teacher))
    return {f"teacher:{tid}": TeacherJob(member, tuple(sorted(epochs)), label)
            for tid, (member, epochs, label) in wanted.items()
            if not all(cached(cache, member, epoch) for epoch in (None, *epochs))}
