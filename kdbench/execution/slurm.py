"""The ``slurm`` executor, through submitit: one SLURM job per kdbench job. On SLURM, every job is
queued at once, a run with ``afterok`` dependencies on its teachers' jobs; submitit's local and
debug clusters have no dependencies, so there the teachers run first, then the runs. Results and
cache must be on a file system every node sees. Each job appends its epochs to a file under
``<folder>/events/`` (the submitit folder, which every node sees), which the driver tails into its
live view."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kdbench.errors import KdbenchError
from kdbench.execution.context import Context
from kdbench.execution.eventfile import FileReporter, Tail
from kdbench.execution.events import View
from kdbench.execution.execute import execute_remote
from kdbench.execution.executors import SlurmParams
from kdbench.execution.jobs import BankJob, Job, Outcome, RunJob, TeacherJob


def run_job(job: Job, context: Context, events: Path) -> Outcome:
    """One job in a SLURM job; its epoch bars go to its events file in ``events``."""
    return execute_remote(job, context, FileReporter(events, job.key))


class SlurmExecutor:
    """Submits jobs with ``submitit.AutoExecutor`` and yields their outcomes as they finish."""

    def __init__(self, params: SlurmParams):
        self.params = params

    def executor(self) -> Any:
        import submitit

        p = self.params
        executor = submitit.AutoExecutor(folder=p.folder, cluster=p.cluster)
        executor.update_parameters(timeout_min=p.time, gpus_per_node=p.gpus, cpus_per_task=p.cpus,
                                   mem_gb=p.mem_gb, slurm_array_parallelism=p.array_parallelism,
                                   **({"slurm_partition": p.partition} if p.partition else {}))
        return executor

    def run(self, jobs: list[Job], context: Context, view: View) -> Iterator[Outcome]:
        events = Path(self.params.folder) / "events" / f"{os.getpid()}-{time.time_ns()}"
        events.mkdir(parents=True, exist_ok=True)
        try:
            tail = Tail(events)
            yield from self.submit(jobs, context, events, lambda: tail.poll(view.apply))
        finally:
            shutil.rmtree(events, ignore_errors=True)

    def submit(self, jobs: list[Job], context: Context, events: Path,
               poll: Callable[[], None]) -> Iterator[Outcome]:
        executor = self.executor()
        waves = [[job for job in jobs if isinstance(job, kind)] for kind in (TeacherJob, BankJob, RunJob)]
        if executor.cluster != "slurm":  # submitit's local executor: each wave after the last
            for wave in waves:
                yield from finish([executor.submit(run_job, job, context, events) for job in wave], poll)
            return
        submitted: dict[str, Any] = {}
        for job in (job for wave in waves for job in wave):
            after = ":".join(submitted[key].job_id for key in job.needs)
            executor.update_parameters(slurm_additional_parameters={"dependency": f"afterok:{after}"}
                                       if after else {})
            submitted[job.key] = executor.submit(run_job, job, context, events)
        yield from finish(list(submitted.values()), poll)


def finish(pending: list[Any], poll: Callable[[], None]) -> Iterator[Outcome]:
    """The outcomes of submitted jobs, each as soon as it is done; ``poll`` shows their
    progress meanwhile."""
    while pending:
        poll()
        for job in [job for job in pending if job.done()]:
            poll()  # its last epochs before its result
            pending.remove(job)
            try:
                yield job.result()
            except Exception as error:  # submitit re-raises the job's error with its traceback
                lines = [line for line in str(error).splitlines() if line.strip()]
                raise KdbenchError(f"SLURM job {job.job_id} failed: {lines[-1] if lines else error}; "
                                   f"its output is in {job.paths.folder}") from None
        time.sleep(0.5)
