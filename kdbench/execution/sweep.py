"""The driver of a sweep: hands a plan's jobs to an executor and gathers every run's result, in
the order of the runs, showing progress as jobs finish wherever they run."""

from __future__ import annotations

from kdbench.errors import KdbenchError
from kdbench.execution.context import Context
from kdbench.execution.events import View
from kdbench.execution.executors import Executor
from kdbench.execution.jobs import BankJob, TeacherJob
from kdbench.execution.planner import Plan, code_change
from kdbench.fileio import check_writable
from kdbench.progress import Progress
from kdbench.results import ResultStore, RunResult
from kdbench.runner import describe, summary


def check_outputs(plan: Plan, context: Context) -> None:
    """Stop, in one line, before anything trains when a job could not save what it trains."""
    if not plan.jobs:
        return
    check_writable(context.cache, "the cache folder (--cache-dir)")
    if context.log:
        check_writable(context.log_dir, "the log folder (--log-dir)")
    store = ResultStore(context.results)
    for folder in sorted({store.path(spec).parent for spec in plan.runs}):
        check_writable(folder, "the results folder (--results)")


def sweep(plan: Plan, context: Context, executor: Executor, progress: Progress) -> list[RunResult]:
    """Every run's result: the finished and reused ones of the plan, and those its jobs make."""
    check_outputs(plan, context)
    results = dict(plan.done)
    for spec in plan.runs:
        if spec.run_id in plan.done:
            progress.done(f"skipped (done) {describe(spec)}")
        elif spec.run_id in plan.stale:
            reused = plan.stale[spec.run_id]
            results[spec.run_id] = reused
            progress.done(f"reused STALE result {describe(spec)}: made by other code "
                          f"({code_change(reused.spec, spec)})")
    jobs = {job.key: job for job in plan.jobs}
    for outcome in executor.run(plan.jobs, context, View(progress)):
        job = jobs[outcome.key]
        if isinstance(job, (TeacherJob, BankJob)):
            if outcome.reason:
                progress.say(f"{job.describe()} failed: {outcome.reason}")
            elif outcome.trained_s:
                done = "made" if isinstance(job, BankJob) else "trained"
                progress.say(f"{done} {job.describe()} in {outcome.trained_s:.1f} s")
            progress.done_with(job.key)
            continue
        assert outcome.result is not None
        results[job.spec.run_id] = outcome.result
        line = f"skipped (done by another runner) {job.describe()}" if outcome.elsewhere \
            else summary(outcome.result)
        progress.done(line, owner=job.key)
    missing = [spec for spec in plan.runs if spec.run_id not in results]
    if missing:
        raise KdbenchError(f"the executor ended without running {len(missing)} of the sweep's runs "
                           f"({describe(missing[0])}, ...); run the same command again")
    return [results[spec.run_id] for spec in plan.runs]
