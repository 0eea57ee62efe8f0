"""The ``local`` executor: every job in this process, one after another, or in N spawned worker
processes that split the CPU threads and take one GPU each, in turn."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Any

from kdbench.errors import KdbenchError
from kdbench.execution.context import Context
from kdbench.execution.events import LocalReporter, QueueReporter, View, pump
from kdbench.execution.execute import execute, execute_remote
from kdbench.execution.jobs import Job, Outcome


class LocalExecutor:
    """Runs jobs on this machine: in this process (``jobs=1``) or in ``jobs`` worker processes."""

    def __init__(self, jobs: int = 1):
        self.jobs = jobs

    def run(self, jobs: list[Job], context: Context, view: View) -> Iterator[Outcome]:
        if self.jobs == 1:
            return in_process(jobs, context, view)
        return in_workers(jobs, context, view, self.jobs)


def in_process(jobs: list[Job], context: Context, view: View) -> Iterator[Outcome]:
    """Each job in turn, in this process; a job another runner holds is left for the end, so
    that this runner does other work meanwhile, and then waited for."""
    held_elsewhere = []
    for job in jobs:
        outcome = execute(job, context, LocalReporter(view.progress, job.key), wait=False)
        if outcome is None:
            held_elsewhere.append(job)
        else:
            yield outcome
    for job in held_elsewhere:
        outcome = execute(job, context, LocalReporter(view.progress, job.key), wait=True)
        assert outcome is not None
        yield outcome


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_threads(processes: int, jobs: int) -> int:
    """CPU threads of each worker: this machine's, split between the workers that will have a
    job (``--jobs 8`` with one run left gives that run every thread)."""
    return max(1, cpu_count() // max(1, min(processes, jobs)))


def in_workers(jobs: list[Job], context: Context, view: View, processes: int) -> Iterator[Outcome]:
    """The jobs in ``processes`` spawned workers, each job once the jobs it needs are done. A
    worker that comes free takes the first ready job in the plan's order (teachers and view banks
    before runs), so a teacher's runs wait in the DAG, not in a worker."""
    spawn = multiprocessing.get_context("spawn")
    events: Any = spawn.Queue()
    counter: Any = spawn.Value("i", 0)
    threads = worker_threads(processes, len(jobs))
    pool = ProcessPoolExecutor(processes, mp_context=spawn, initializer=start_worker,
                               initargs=(events, counter, threads, context.device, os.getpid()))
    pending = list(jobs)
    running: dict[Future[Outcome], Job] = {}
    finished: set[str] = set()
    try:
        with pump(events, view.apply):
            try:
                while pending or running:
                    for job in ready(pending, finished, processes - len(running)):
                        pending.remove(job)
                        running[pool.submit(run_job, job, context)] = job
                    if not running:
                        raise KdbenchError(f"{pending[0].describe()} waits for a job that is not in "
                                           "the plan; this is a bug in the planner")
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        job = running.pop(future)
                        finished.add(job.key)
                        yield result_of(future, job)
            except BaseException:  # Ctrl-C, a job's error, the caller stopped: before the pump drains
                stop_workers(pool)
                raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def ready(pending: list[Job], finished: set[str], free: int) -> list[Job]:
    """The first ``free`` jobs of ``pending``, in order, whose needs are all ``finished``."""
    return [job for job in pending if set(job.needs) <= finished][:max(free, 0)]


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """End the workers of a sweep that stops early, at once. Else each would go on with its run
    and then the runs already queued for it, which the pool can no longer cancel, while the
    events they post keep the driver draining them: hours after a Ctrl-C. What they wrote is
    whole (files are written atomically), and their runs resume from their last epoch."""
    processes = list((pool._processes or {}).values())  # the pool offers no public way to them
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()


def result_of(future: Future[Outcome], job: Job) -> Outcome:
    try:
        return future.result()
    except BrokenProcessPool:
        raise KdbenchError(f"a worker process died while running {job.describe()}; finished "
                           "runs are saved: run the same command again to resume") from None


_events: Any = None
_device: str | None = None


def start_worker(events: Any, counter: Any, threads: int, device: str, driver: int) -> None:
    """Set up a spawned worker: its share of CPU threads, its GPU (round-robin over the visible
    ones), where its events go, and an exit when the driver dies (so its locks are released).
    Ctrl-C is the driver's (it ends the workers): a worker interrupted anywhere, in an import
    half done, could record its run as failed."""
    global _events, _device
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    torch.set_num_threads(threads)
    _events, _device = events, device
    if device in ("auto", "cuda") and torch.cuda.is_available():
        _device = f"cuda:{index % torch.cuda.device_count()}"
    threading.Thread(target=exit_with, args=(driver,), daemon=True).start()


def exit_with(driver: int) -> None:
    """Exit this worker at once when the process that started it is gone."""
    while os.getppid() == driver:
        time.sleep(1.0)
    os._exit(1)


def run_job(job: Job, context: Context) -> Outcome:
    """One job in a worker, on the worker's device, reporting through the event queue."""
    return execute_remote(job, replace(context, device=_device or context.device),
                          QueueReporter(_events, job.key))
