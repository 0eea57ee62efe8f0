"""The executor under torchrun: every rank goes through rank 0's plan in its order, and each run
is trained by all ranks together (DDP). Rank 0 alone takes the locks, trains the teachers (the
other ranks wait), decides whether a run is still to make, and writes."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from kdbench.engine import distributed
from kdbench.engine.distributed import Group
from kdbench.engine.train import EpochCallback
from kdbench.errors import KdbenchError
from kdbench.execution.context import Context, worker
from kdbench.execution.events import LocalReporter, Reporter, View
from kdbench.execution.execute import execute, made_elsewhere, make
from kdbench.execution.jobs import Job, Outcome, RunJob
from kdbench.execution.locks import held
from kdbench.execution.planner import cached, snapshot
from kdbench.plugins import PluginManager
from kdbench.runner import run
from kdbench.specs import RunSpec

TOGETHER, DONE, ALONE = "together", "done", "alone"
"""What the ranks do with a run: train it together, read back what another runner made, or leave
it to rank 0 alone (its teacher could not be trained: the run fails as it would in one process)."""


class Quiet:
    """Reports of a rank other than 0: none (rank 0 shows the same)."""

    def epochs(self, description: str, total: int) -> EpochCallback:
        return lambda epoch, entry: None

    def say(self, line: str) -> None:
        pass


class DistributedExecutor:
    """Runs a sweep's jobs on every rank of a torchrun group, in rank 0's order."""

    def __init__(self, group: Group):
        self.group = group

    def run(self, jobs: list[Job], context: Context, view: View) -> Iterator[Outcome]:
        ours = {job.key: job for job in jobs}
        for key in distributed.broadcast([job.key for job in jobs]):
            if key not in ours:
                raise KdbenchError(f"rank {self.group.rank} did not plan {key}, which rank 0 did (another "
                                   "runner wrote results meanwhile?); run the same command again")
            job = ours[key]
            report: Reporter = LocalReporter(view.progress, key) if self.group.main else Quiet()
            if isinstance(job, RunJob):
                yield self.make(job, context, report)
                continue
            outcome = execute(job, context, report) if self.group.main else None  # it waits: never None
            distributed.wait()
            yield outcome or Outcome(key, elsewhere=True)

    def make(self, job: RunJob, context: Context, report: Reporter) -> Outcome:
        """One run: rank 0 decides under the run's lock; then all ranks train it, or none."""
        if not self.group.main:
            return follow(job, context, distributed.broadcast(None))
        with held(context.cache, "run", job.spec.run_id):
            done = made_elsewhere(job, context)
            teacher = job.spec.teacher
            ready = teacher is None or all(cached(context.cache, member, epoch) for member in
                                           teacher.members() for epoch in (None, *snapshot(teacher)))
            how = distributed.broadcast(DONE if done else TOGETHER if ready else ALONE)
            if done is not None:
                return Outcome(job.key, done, elsewhere=True)
            if how == ALONE:
                try:
                    return make(job, replace(context, group=None), report)
                finally:
                    distributed.wait()
            return make(job, context, report)


def follow(job: RunJob, context: Context, how: str) -> Outcome:
    """A rank other than 0 does what rank 0 decided; it writes nothing."""
    tools = worker(context)
    if how == TOGETHER:
        return Outcome(job.key, run(job.spec, tools, Quiet()))
    if how == ALONE:
        distributed.wait()
    result = tools.store.get(job.spec)
    if result is None:
        raise KdbenchError(f"rank {context.group.rank if context.group else 0}: no result for "
                           f"{job.describe()} after rank 0 made it; run the same command again")
    return Outcome(job.key, result, elsewhere=True)


def check(group: Group, executor: str, options: dict[str, Any], runs: list[RunSpec],
          pm: PluginManager) -> None:
    """Refuse, in one line and before anything trains, what torchrun cannot run: another executor
    or worker processes, a method whose state the ranks would not keep in agreement (CRD's memory
    banks), and batches that leave a rank fewer than 2 examples (batch norm cannot train on 1)."""
    where = f"under torchrun (WORLD_SIZE={group.world_size})"
    if executor != "local" or options.get("jobs", 1) != 1:
        raise KdbenchError(f"--executor {executor} {where}: torchrun trains each run on all its "
                           "processes; give --executor local without --jobs, or drop torchrun")
    for spec in runs:
        if not pm.methods.get(spec.method.name).supports_ddp:
            raise KdbenchError(f"method {spec.method_label!r} ({spec.method.name}) {where}: it keeps "
                               "state that the processes would not share; run it without torchrun")
        if spec.recipe.batch_size < 2 * group.world_size:
            raise KdbenchError(f"student_recipe.batch_size {spec.recipe.batch_size} ({spec.method_label}, "
                               f"{spec.student_label}) {where}: each process needs 2 examples of a "
                               f"batch or more; give {2 * group.world_size} or more")


def quiet(group: Group) -> None:
    """Ranks other than 0 print nothing (their lines would repeat rank 0's); an error that is not
    a user's still shows its traceback."""
    if group.main:
        return
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115  # for the life of the process
    sys.excepthook = lambda kind, error, trace: traceback.print_exception(kind, error, trace,
                                                                          file=sys.__stderr__)
