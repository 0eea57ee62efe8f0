"""Progress of jobs that cannot reach the driver (SLURM jobs on other nodes): each job appends its
events, one JSON line each, to a file of its own in a folder every node sees, and the driver tails
the folder into its live view. JSON, not pickle: a line read back can carry no code, and one that
does not parse as an event is skipped with a warning."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from kdbench.engine.train import EpochCallback
from kdbench.execution.events import Bar, Epoch, Event, Said

log = logging.getLogger("kdbench.execution")

KINDS: dict[str, type[Bar] | type[Epoch] | type[Said]] = {"bar": Bar, "epoch": Epoch, "said": Said}
_bars = itertools.count()


def events_path(folder: Path, owner: str) -> Path:
    """The file that the job ``owner`` (a job key, ``run:<id>``) appends to."""
    return Path(folder) / f"{re.sub(r'[^A-Za-z0-9_.-]', '-', owner)}.jsonl"


class FileReporter:
    """Reports of a job, appended as JSON lines to its events file; lines said are printed too,
    so the job's own log keeps them."""

    def __init__(self, folder: Path, owner: str):
        self.path, self.owner = events_path(folder, owner), owner

    def post(self, event: Event) -> None:
        kind = next(name for name, cls in KINDS.items() if isinstance(event, cls))
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"kind": kind, **dataclasses.asdict(event)}) + "\n")

    def epochs(self, description: str, total: int) -> EpochCallback:
        bar = f"{self.owner}/{next(_bars)}"
        self.post(Bar(self.owner, bar, description, total))
        return lambda epoch, entry: self.post(Epoch(bar, epoch))

    def say(self, line: str) -> None:
        print(line, flush=True)
        self.post(Said(line))


def parse(line: str) -> Event:
    """One event from a JSON line; ValueError when it is not one."""
    data: Any = json.loads(line)
    if not isinstance(data, dict) or data.get("kind") not in KINDS:
        raise ValueError("not an event")
    fields = {key: value for key, value in data.items() if key != "kind"}
    try:
        return TypeAdapter(KINDS[data["kind"]]).validate_json(json.dumps(fields), strict=True)
    except ValidationError as error:
        problem = error.errors()[0]
        raise ValueError(f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}") from None


class Tail:
    """Follows the events files of a folder: each ``poll`` applies the complete lines written
    since the last one."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.offsets: dict[Path, int] = {}

    def poll(self, apply: Callable[[Event], None]) -> None:
        for path in sorted(self.folder.glob("*.jsonl")):
            try:
                with path.open("rb") as handle:
                    handle.seek(self.offsets.get(path, 0))
                    data = handle.read()
            except OSError:
                continue
            complete = data[:data.rfind(b"\n") + 1]  # a line still being written waits
            self.offsets[path] = self.offsets.get(path, 0) + len(complete)
            for line in complete.decode("utf-8", errors="replace").splitlines():
                try:
                    event = parse(line)
                except ValueError as error:
                    log.warning("%s: a line that is not a progress event (%s); skipped", path, error)
                    continue
                apply(event)
