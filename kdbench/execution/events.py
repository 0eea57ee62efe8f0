"""Progress across processes: a job reports its epoch bars and messages to a ``Reporter``; in the
driver's process that is the live view itself, in a worker it posts small picklable events on a
queue that the driver's ``pump`` feeds to the view. One view shows every worker's bars."""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from kdbench.engine.train import EpochCallback
from kdbench.progress import Progress


class Reporter(Protocol):
    """Where a job reports: an epoch bar per trained network, and lines to show."""

    def epochs(self, description: str, total: int) -> EpochCallback: ...

    def say(self, line: str) -> None: ...


@dataclass(frozen=True)
class Bar:
    """A job opened a bar of ``total`` epochs."""

    owner: str
    bar: str
    description: str
    total: int


@dataclass(frozen=True)
class Epoch:
    """One epoch of bar ``bar`` finished."""

    bar: str
    epoch: int


@dataclass(frozen=True)
class Said:
    """A line for the driver to show."""

    line: str


Event = Bar | Epoch | Said


class LocalReporter:
    """Reports of a job that runs in the driver's process, straight to its view."""

    def __init__(self, progress: Progress, owner: str):
        self.progress, self.owner = progress, owner

    def epochs(self, description: str, total: int) -> EpochCallback:
        return self.progress.epochs(description, total, owner=self.owner)

    def say(self, line: str) -> None:
        self.progress.say(line)


_bars = itertools.count()


class QueueReporter:
    """Reports of a job that runs in another process, posted as events on ``sink`` (a
    ``multiprocessing`` queue, a Ray queue: anything with ``put``)."""

    def __init__(self, sink: Any, owner: str):
        self.sink, self.owner = sink, owner

    def epochs(self, description: str, total: int) -> EpochCallback:
        bar = f"{self.owner}/{next(_bars)}"
        self.sink.put(Bar(self.owner, bar, description, total))
        return lambda epoch, entry: self.sink.put(Epoch(bar, epoch))

    def say(self, line: str) -> None:
        self.sink.put(Said(line))


class View:
    """Applies events from workers to the driver's ``Progress``."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.callbacks: dict[str, EpochCallback] = {}

    def apply(self, event: Event) -> None:
        if isinstance(event, Bar):
            self.callbacks[event.bar] = self.progress.epochs(event.description, event.total,
                                                             owner=event.owner)
        elif isinstance(event, Epoch) and event.bar in self.callbacks:
            self.callbacks[event.bar](event.epoch, {})
        elif isinstance(event, Said):
            self.progress.say(event.line)


@contextmanager
def pump(source: Any, apply: Callable[[Event], None], empty: type[Exception] = queue.Empty
         ) -> Iterator[None]:
    """While the block runs, a thread feeds the events on ``source`` to ``apply``; when it ends,
    the events its producers still post are applied until none comes for a tenth of a second.
    The thread looks for the end after every event (workers still training never leave their
    queue quiet for long), and a block that fails drains nothing: its producers may go on."""
    stop = threading.Event()

    def drain() -> None:
        while True:
            try:
                event = source.get(timeout=0.1)
            except empty:
                return
            apply(event)

    def loop() -> None:
        while not stop.is_set():
            try:
                event = source.get(timeout=0.1)
            except empty:
                continue
            apply(event)

    thread = threading.Thread(target=loop, name="kdbench-events", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    drain()  # not reached when the block failed
