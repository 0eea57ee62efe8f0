"""What a training logger is: an object that receives one ``EpochRecord`` per epoch of one trained
network (a student run or a teacher member) and is closed when that training ends.

A ``LoggerInfo`` factory builds one per network as ``factory(params, run)``; ``run`` is a
``LoggedRun`` saying which network it is and where its logs belong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch: the mean of each loss term, the learning rate, the training throughput
    and, in epochs that evaluate, the test accuracy (percent)."""

    epoch: int
    lr: float
    loss: Mapping[str, float]
    images_per_s: float
    test_acc: float | None = None

    @classmethod
    def from_history(cls, entry: Mapping[str, Any]) -> EpochRecord:
        """The record of one entry of ``kdbench.engine.train.fit``'s history."""
        return cls(epoch=int(entry["epoch"]), lr=float(entry["lr"]),
                   loss={name: float(value) for name, value in entry["loss"].items()},
                   images_per_s=entry["images"] / max(entry["seconds"], 1e-9),
                   test_acc=entry.get("test_acc"))

    def scalars(self) -> dict[str, float]:
        """The record as TensorBoard scalar tags: ``loss/<term>``, ``lr``, ``test/acc`` (when
        evaluated) and ``throughput/images_per_s``."""
        scalars = {f"loss/{name}": value for name, value in self.loss.items()}
        scalars["lr"] = self.lr
        if self.test_acc is not None:
            scalars["test/acc"] = self.test_acc
        scalars["throughput/images_per_s"] = self.images_per_s
        return scalars


@dataclass(frozen=True)
class LoggedRun:
    """The network a logger watches.

    ``name`` is its path under the log root (``<track>/<budget>/<run_id>`` for a student run,
    ``teachers/<teacher_id>`` for a teacher member), ``log_dir`` that folder, ``description`` a
    line for people and ``config`` the resolved spec as JSON-ready data (hyper-parameters).
    """

    kind: Literal["student", "teacher"]
    name: str
    log_dir: Path
    description: str
    config: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Logger(Protocol):
    """Receives the epochs of one trained network, in order, then ``close()`` exactly once.

    A resumed run starts again at its first unfinished epoch; records of that epoch and later ones
    replace any that were logged before the interruption.
    """

    def log_epoch(self, epoch: int, record: EpochRecord) -> None: ...

    def close(self) -> None: ...
