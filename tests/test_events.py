"""Progress across processes: a worker's epoch bars and lines travel as events through a queue to
the driver's one view; a finished run closes only its own bars while others still train."""

from __future__ import annotations

import io
import multiprocessing
import queue
import time

import pytest
from rich.console import Console

from kdbench.execution.events import QueueReporter, Said, View, pump
from kdbench.progress import Progress


def worker(events) -> None:
    """What a job in another process does: a bar of 3 epochs, two of them finished, and a line."""
    report = QueueReporter(events, "run:a")
    advance = report.epochs("kd: w2 -> w0.5, seed 0", 3)
    advance(0, {})
    advance(1, {})
    report.say("trained teacher w2 in 1.0 s")


def test_a_workers_events_reach_the_drivers_view_and_close_with_their_run() -> None:
    spawn = multiprocessing.get_context("spawn")
    events = spawn.Queue()
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    with Progress(2, console=console) as progress:
        other = progress.epochs("ce: w0.5, seed 0", 5, owner="run:b")
        other(0, {})
        with pump(events, View(progress).apply):
            process = spawn.Process(target=worker, args=(events,))
            process.start()
            process.join(timeout=120)
        assert process.exitcode == 0
        bars = {task.description.strip(): task.completed for task in progress._bars.tasks
                if task.id in progress._open}
        assert bars == {"kd: w2 -> w0.5, seed 0": 2, "ce: w0.5, seed 0": 1}
        progress.done("kd: w2 -> w0.5, seed 0: test acc 90%", owner="run:a")
        assert [progress._bars.tasks[progress._bars.task_ids.index(t)].description.strip()
                for t in progress._open] == ["ce: w0.5, seed 0"]
    text = console.file.getvalue()
    assert "trained teacher w2 in 1.0 s" in text and "[1/2] kd: w2 -> w0.5" in text


def test_off_a_terminal_each_finished_run_is_one_line(capsys) -> None:
    with Progress(2, live=False) as progress:
        progress.epochs("kd", 3, owner="run:a")(0, {})
        progress.done("kd: test acc 90%", owner="run:a")
        progress.done("ce: test acc 80%", owner="run:b")
    assert capsys.readouterr().err.splitlines() == ["[1/2] kd: test acc 90%", "[2/2] ce: test acc 80%"]



class Endless:
    """Producers that post without pause, as workers still training do; nothing is left over
    between two of their events (``get_nowait`` finds the queue empty)."""

    LIMIT = 10_000

    def __init__(self) -> None:
        self.taken = 0

    def get(self, timeout: float) -> Said:
        time.sleep(0.001)  # an event a millisecond
        self.taken += 1
        if self.taken > self.LIMIT:  # the pump would never have stopped
            raise queue.Empty
        return Said("epoch")

    def get_nowait(self) -> Said:
        raise queue.Empty


def test_the_pump_stops_while_producers_still_post() -> None:
    """A Ctrl-C waited for the workers' runs to end: the pump's thread stopped only after a
    tenth of a second without events."""
    source = Endless()
    with pytest.raises(KeyboardInterrupt), pump(source, lambda event: None):
        raise KeyboardInterrupt
    assert source.taken < Endless.LIMIT
