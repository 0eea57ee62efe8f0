"""The ``ray`` executor: one Ray task per job, with the CPUs and GPUs each asks for; a run's task
takes its teacher jobs' tasks as arguments, so Ray starts it once they are done. Results and
cache are paths every node sees (a shared file system), as on any cluster. Workers' epoch bars
come back through a Ray queue to the driver's view."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kdbench.errors import KdbenchError
from kdbench.execution.context import Context
from kdbench.execution.events import QueueReporter, View, pump
from kdbench.execution.execute import execute_remote
from kdbench.execution.jobs import Job, Outcome


def run_job(job: Job, context: Context, events: Any, *needed: Outcome) -> Outcome:
    """One job in a Ray worker; ``needed`` are the outcomes of the teacher jobs it waited for."""
    return execute_remote(job, context, QueueReporter(events, job.key))


class RayExecutor:
    """Runs jobs as tasks of a Ray cluster: the one ``address`` names, the one this process is
    already connected to, or a local one started for the sweep."""

    def __init__(self, address: str | None = None, num_cpus: float = 1.0, num_gpus: float = 0.0):
        self.address, self.num_cpus, self.num_gpus = address, num_cpus, num_gpus

    def run(self, jobs: list[Job], context: Context, view: View) -> Iterator[Outcome]:
        import ray
        from ray.util.queue import Empty, Queue

        started = not ray.is_initialized()
        if started:
            ray.init(address=self.address, log_to_driver=False)
        try:
            events = Queue()
            task = ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=0)(run_job)
            refs: dict[str, Any] = {}
            for job in jobs:  # in the plan's order: a job's teachers come before it
                refs[job.key] = task.remote(job, context, events, *(refs[key] for key in job.needs))
            pending = list(refs.values())
            with pump(events, view.apply, Empty):
                while pending:
                    ready, pending = ray.wait(pending, num_returns=1)
                    yield outcome(ray, ready[0])
        finally:
            if started:
                ray.shutdown()


def outcome(ray: Any, ref: Any) -> Outcome:
    """The outcome of a finished task; a task that raised is one line, as any user error."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as error:
        cause = error.as_instanceof_cause()
        if isinstance(cause, KdbenchError):
            raise KdbenchError(str(cause).splitlines()[-1] if str(cause) else "a Ray task failed") from None
        raise KdbenchError(f"a Ray task failed: {str(error.cause).splitlines()[0]}") from None
    except ray.exceptions.RayError as error:
        raise KdbenchError(f"Ray: {type(error).__name__}: {str(error).splitlines()[0]}; finished "
                           "runs are saved: run the same command again to resume") from None
