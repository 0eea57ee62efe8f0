"""The loggers chosen for a sweep (``kdbench run --log NAME``): checked before anything trains,
built once per trained network, fed every epoch and closed when that training ends.

A logger that raises is reported in one warning line and dropped for the rest of that network's
training: logging never fails a benchmark run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from kdbench.engine.train import EpochCallback
from kdbench.errors import KdbenchError
from kdbench.loggers.base import EpochRecord, LoggedRun
from kdbench.plugins import PluginManager, Registered, one_line
from kdbench.types import LoggerInfo

if TYPE_CHECKING:
    from kdbench.specs import RunSpec, TeacherSpec

log = logging.getLogger("kdbench.loggers")

DEFAULT_ROOT = Path("runs")


@dataclass(frozen=True)
class Chosen:
    """One logger of the group, with its validated parameters."""

    entry: Registered[LoggerInfo]
    params: BaseModel

    def __str__(self) -> str:
        return f"logger {self.entry.info.name!r} ({self.entry.distribution})"


def choose(pm: PluginManager, name: str) -> Chosen:
    """The logger called ``name``, checked; any problem is one line naming ``--log NAME``."""
    try:
        entry = pm.loggers.find(name)
    except KdbenchError as error:
        raise KdbenchError(f"--log {name}: {error}") from None
    try:
        params = entry.info.Params.model_validate({})
        if entry.info.check is not None:
            entry.info.check()
    except KdbenchError as error:
        raise KdbenchError(f"--log {name}: {error}") from None
    except ValidationError as error:
        raise KdbenchError(f"--log {name}: the logger's parameters need values that --log cannot "
                           f"give ({one_line(error)})") from None
    except Exception as error:  # a broken plugin's check
        raise KdbenchError(f"--log {name}: the check of plugin {entry.plugin!r} "
                           f"({entry.distribution}) raised {one_line(error)}") from None
    return Chosen(entry, params)


class LoggerGroup:
    """The chosen loggers and the root folder that each network's logs go under."""

    def __init__(self, chosen: Iterable[Chosen] = (), root: Path = DEFAULT_ROOT):
        self.chosen, self.root = tuple(chosen), Path(root)

    @classmethod
    def from_names(cls, pm: PluginManager, names: Iterable[str], root: Path = DEFAULT_ROOT
                   ) -> LoggerGroup:
        """The loggers called ``names`` (a name given twice counts once), all checked."""
        return cls([choose(pm, name) for name in dict.fromkeys(names)], root)

    def student(self, spec: RunSpec, on_epoch: EpochCallback | None = None
                ) -> AbstractContextManager[EpochCallback | None]:
        """``open`` for a student run, logged under ``<root>/<track>/<budget>/<run_id>``."""
        name = f"{spec.track}/{spec.budget}/{spec.run_id}"
        teacher = f"{spec.teacher_label} -> " if spec.teacher_label else ""
        run = LoggedRun("student", name, self.root / name,
                        f"{spec.method_label}: {teacher}{spec.student_label}, seed {spec.seed}",
                        spec.model_dump(mode="json"))
        return self.open(run, on_epoch)

    def teacher(self, member: TeacherSpec, on_epoch: EpochCallback | None = None
                ) -> AbstractContextManager[EpochCallback | None]:
        """``open`` for one teacher member, logged under ``<root>/teachers/<teacher_id>``."""
        name = f"teachers/{member.teacher_id}"
        run = LoggedRun("teacher", name, self.root / name,
                        f"teacher {member.model.name}, seed {member.seed}",
                        member.model_dump(mode="json"))
        return self.open(run, on_epoch)

    @contextmanager
    def open(self, run: LoggedRun, on_epoch: EpochCallback | None = None
             ) -> Iterator[EpochCallback | None]:
        """An epoch callback for ``fit`` that calls ``on_epoch`` and then every logger; the
        loggers are closed when the block ends, however it ends. Without loggers: ``on_epoch``."""
        if not self.chosen:
            yield on_epoch
            return
        live: list[tuple[Chosen, Any]] = []
        for chosen in self.chosen:
            try:
                live.append((chosen, chosen.entry.info.factory(chosen.params, run)))
            except Exception as error:
                _drop(chosen, run, "its factory", error)

        def callback(epoch: int, entry: dict[str, Any]) -> None:
            if on_epoch is not None:
                on_epoch(epoch, entry)
            record = EpochRecord.from_history(entry)
            for chosen, logger in list(live):
                try:
                    logger.log_epoch(epoch, record)
                except Exception as error:
                    _drop(chosen, run, "log_epoch", error)
                    live.remove((chosen, logger))
                    _close(chosen, logger, run, warn=False)

        try:
            yield callback
        finally:
            for chosen, logger in live:
                _close(chosen, logger, run, warn=True)


def _drop(chosen: Chosen, run: LoggedRun, what: str, error: Exception) -> None:
    log.warning("%s stopped logging %s: %s raised %s", chosen, run.name, what, one_line(error))


def _close(chosen: Chosen, logger: Any, run: LoggedRun, warn: bool) -> None:
    """Close ``logger``; a failure is reported unless the logger was already reported."""
    try:
        logger.close()
    except Exception as error:
        if warn:
            _drop(chosen, run, "close", error)
