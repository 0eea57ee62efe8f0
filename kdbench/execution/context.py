"""What every job of a sweep shares (``Context``: plain, picklable settings) and what each process
builds from it once (``Worker``: plugins, data, device, the teacher cache)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from kdbench.data.source import DataSource
from kdbench.engine.distributed import Group
from kdbench.engine.step import DEFAULT_OPTIONS, EngineOptions
from kdbench.loggers.group import LoggerGroup
from kdbench.plugins import PluginManager, get_plugin_manager
from kdbench.results import ResultStore
from kdbench.teachers import TeacherCache


@dataclass(frozen=True)
class Context:
    """The settings of a sweep that any process (a spawned worker, a Ray task, a SLURM job) needs
    to run one of its jobs: shared folders, device, loggers; under torchrun, this rank's ``group``."""

    results: Path
    cache: Path
    data_dir: Path
    device: str = "auto"
    download: bool = False
    rerun: bool = False
    log: tuple[str, ...] = ()
    log_dir: Path = Path("runs")
    strict_plugins: bool = False
    group: Group | None = None
    engine: EngineOptions = DEFAULT_OPTIONS

    @property
    def writes(self) -> bool:
        """Whether this process writes what it makes: always, but for ranks other than 0."""
        return self.group is None or self.group.main


@dataclass
class Worker:
    """One process's tools for running jobs, built once from a ``Context``: data sets load once
    per process and a teacher's logits are computed once per process."""

    context: Context
    pm: PluginManager
    device: torch.device
    data: DataSource = field(init=False)
    store: ResultStore = field(init=False)
    loggers: LoggerGroup = field(init=False)
    teachers: TeacherCache = field(init=False)

    def __post_init__(self) -> None:
        context = self.context
        self.data = DataSource(self.pm, context.data_dir, download=context.download)
        self.store = ResultStore(context.results)
        self.loggers = LoggerGroup.from_names(self.pm, context.log, context.log_dir)
        self.teachers = TeacherCache(context.cache, self.pm, self.data, self.device, self.loggers,
                                     context.engine)


_current: Worker | None = None


def worker(context: Context) -> Worker:
    """This process's ``Worker`` for ``context`` (only the latest one is kept)."""
    global _current
    from kdbench.runner import resolve_device

    if _current is None or _current.context != context:
        pm = get_plugin_manager(strict=True if context.strict_plugins else None)
        _current = Worker(context, pm, resolve_device(context.device))
    return _current
