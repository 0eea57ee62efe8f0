"""The single job: ``execute(job, context, report)`` runs one teacher, view bank or run job in this process,
under its lock, and returns its ``Outcome``. Any executor calls it, wherever the job lands."""

from __future__ import annotations

from kdbench.errors import KdbenchError
from kdbench.execution.context import Context, worker
from kdbench.execution.events import Reporter
from kdbench.execution.jobs import BankJob, Job, Outcome, RunJob, TeacherJob
from kdbench.execution.locks import held
from kdbench.execution.planner import finished, modified
from kdbench.execution.teacher import train_member
from kdbench.fileio import remove
from kdbench.plugins import one_line
from kdbench.results import RunResult
from kdbench.runner import checkpoint_path, make_view_bank, run


def execute(job: Job, context: Context, report: Reporter, wait: bool = True) -> Outcome | None:
    """Run ``job``; None, at once, when another runner holds it and ``wait`` is false. A run whose
    result another runner wrote since it was planned is read back, not made again."""
    tools = worker(context)
    if isinstance(job, BankJob):
        try:
            made_s = make_view_bank(job.spec, tools, report)
        except (KdbenchError, KeyboardInterrupt):
            raise
        except Exception as error:  # its runs make the bank themselves, or fail saying why
            return Outcome(job.key, reason=one_line(error))
        return Outcome(job.key, trained_s=made_s)
    if isinstance(job, TeacherJob):
        try:
            seconds = train_member(tools, job.teacher, job.snapshots, job.label, report, wait)
        except (KdbenchError, KeyboardInterrupt):
            raise
        except Exception as error:  # a diverged teacher: each of its runs fails, saying why
            return Outcome(job.key, reason=one_line(error))
        return None if seconds is None else Outcome(job.key, trained_s=seconds, elsewhere=seconds == 0)
    with held(context.cache, "run", job.spec.run_id, wait) as mine:
        if not mine:
            return None
        done = made_elsewhere(job, context)
        if done is not None:
            return Outcome(job.key, done, elsewhere=True)
        return make(job, context, report)


def made_elsewhere(job: RunJob, context: Context) -> RunResult | None:
    """The result of ``job`` that another runner wrote since it was planned, if any (call it
    holding the run's lock)."""
    store = worker(context).store
    written = modified(store.path(job.spec))
    return None if context.rerun or written == job.seen else finished(store, job.spec)


def make(job: RunJob, context: Context, report: Reporter) -> Outcome:
    """Make the run of ``job`` and write its result (call it holding the run's lock)."""
    tools = worker(context)
    if job.older:
        report.say(f"running {job.describe()} again: its result was made by other code "
                   f"({job.older}); --reuse-stale keeps it")
    result = run(job.spec, tools, report, view_bank=job.view_bank)
    tools.store.write(result)
    if result.ok:  # only now: the student and the result are on disk
        remove(checkpoint_path(context.cache, job.spec))
    return Outcome(job.key, result)


def execute_remote(job: Job, context: Context, report: Reporter) -> Outcome:
    """``execute`` in a process of its own (a spawned worker, a Ray task, a SLURM job): a user
    error comes back as a plain ``KdbenchError`` with its message, which pickles."""
    try:
        outcome = execute(job, context, report)
    except KdbenchError as error:
        raise KdbenchError("\n".join(error.lines())) from None
    assert outcome is not None  # it waited for the lock
    return outcome
