"""Progress of a sweep: live bars on a terminal, one plain line per finished piece elsewhere."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from kdbench.engine.train import EpochCallback


class Progress:
    """Shows runs done out of the total and the epochs of the piece being trained."""

    def __init__(self, total: int, console: Console | None = None, live: bool | None = None):
        self.console = console or Console(stderr=True)
        self.live = self.console.is_terminal if live is None else live
        self.total, self.finished = total, 0
        self._bars: RichProgress | None = None
        self._open: list[Any] = []
        self._owners: dict[Any, str | None] = {}

    def __enter__(self) -> Progress:
        if self.live:
            self._bars = RichProgress(TextColumn("{task.description}"), BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(),
                                      console=self.console, transient=True)
            self._bars.start()
            self._overall = self._bars.add_task("runs", total=self.total)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._bars is not None:
            self._bars.stop()

    def epochs(self, description: str, total: int, owner: str | None = None) -> EpochCallback:
        """A callback for ``fit`` that advances a bar of ``total`` epochs (all members of an
        ensemble together); the bar goes away when it is full or when the run finishes (the run
        ``owner`` names, when several train at once)."""
        if self._bars is None or total == 0:
            return lambda epoch, entry: None
        bars = self._bars
        task = bars.add_task(f"  {description}", total=total)
        self._open.append(task)
        self._owners[task] = owner

        def advance(epoch: int, entry: dict[str, Any]) -> None:
            if task in self._open:
                bars.advance(task)
                if bars.tasks[bars.task_ids.index(task)].finished:
                    self._close(task)

        return advance

    @property
    def shown(self) -> list[str]:
        """The descriptions of the epoch bars on screen now, oldest first."""
        if self._bars is None:
            return []
        return [task.description.strip() for task in self._bars.tasks if task.id in self._open]

    def done_with(self, owner: str) -> None:
        """A piece that is not a run (a teacher) is finished: its bars go."""
        for task in list(self._open):
            if self._owners.get(task) == owner:
                self._close(task)

    def _close(self, task: Any) -> None:
        self._open.remove(task)
        self._owners.pop(task, None)
        if self._bars is not None:
            self._bars.remove_task(task)

    def done(self, line: str, owner: str | None = None) -> None:
        """One run is finished (trained, skipped or failed): its bars go (all bars, without an
        ``owner``)."""
        self.finished += 1
        if owner is None:
            for task in list(self._open):  # a resumed run's bar may not have filled
                self._close(task)
        else:
            self.done_with(owner)
        if self._bars is not None:
            self._bars.advance(self._overall)
        self.say(f"[{self.finished}/{self.total}] {line}")

    def say(self, line: str) -> None:
        if self._bars is not None:
            self._bars.console.print(line, highlight=False, markup=False)
        else:
            print(line, file=sys.stderr, flush=True)
