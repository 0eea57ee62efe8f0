"""The ``slurm`` executor, through submitit: one SLURM job per kdbench job. On SLURM, every job is
queued at once, a run with ``afterok`` dependencies on its teachers' jobs; submitit's local and
debug clusters have no dependencies, so there the teachers run first, then the runs. Results and
cache must be on a file system every node sees."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from kdbench.engine.train import EpochCallback
from kdbench.errors import KdbenchError
from kdbench.execution.context import Context
from kdbench.execution.events import View
from kdbench.execution.execute import execute_remote
from kdbench.execution.executors import SlurmParams
from kdbench.execution.jobs import Job, Outcome, TeacherJob


class Silent:
    """Reports of a job on another node, which cannot reach the driver: none (the driver shows a
    line per finished job, and submitit keeps each job's output in its folder)."""

    def epochs(self, description: str, total: int) -> EpochCallback:
        return lambda epoch, entry: None

    def say(self, line: str) -> None:
        print(line, flush=True)


def run_job(job: Job, context: Context) -> Outcome:
    return execute_remote(job, context, Silent())


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
        executor = self.executor()
        teachers = [job for job in jobs if isinstance(job, TeacherJob)]
        runs = [job for job in jobs if not isinstance(job, TeacherJob)]
        submitted = {job.key: executor.submit(run_job, job, context) for job in teachers}
        if executor.cluster != "slurm":
            yield from finish(list(submitted.values()))
            yield from finish([executor.submit(run_job, job, context) for job in runs])
            return
        pending = list(submitted.values())
        for job in runs:
            after = ":".join(submitted[key].job_id for key in job.needs)
            executor.update_parameters(slurm_additional_parameters={"dependency": f"afterok:{after}"}
                                       if after else {})
            pending.append(executor.submit(run_job, job, context))
        yield from finish(pending)


def finish(pending: list[Any]) -> Iterator[Outcome]:
    """The outcomes of submitted jobs, each as soon as it is done."""
    while pending:
        for job in [job for job in pending if job.done()]:
            pending.remove(job)
            try:
                yield job.result()
            except Exception as error:  # submitit re-raises the job's error with its traceback
                lines = [line for line in str(error).splitlines() if line.strip()]
                raise KdbenchError(f"SLURM job {job.job_id} failed: {lines[-1] if lines else error}; "
                                   f"its output is in {job.paths.folder}") from None
        time.sleep(0.5)
