"""Training loggers: the protocol a logger follows (``base``), the built-in ``tensorboard`` and
``csv`` loggers, and the group that feeds the chosen ones during a sweep (``group``)."""

from kdbench.loggers.base import EpochRecord, LoggedRun, Logger
from kdbench.types import LoggerInfo


def builtin_loggers() -> list[LoggerInfo]:
    """The loggers kdbench registers through its own ``builtin`` plugin."""
    from kdbench.loggers import csv, tensorboard

    return [
        LoggerInfo("tensorboard", "TensorBoard event files, one folder per trained network "
                   '(pip install "kdbench[tensorboard]")', tensorboard.TensorBoardLogger,
                   check=tensorboard.require_tensorboard),
        LoggerInfo("csv", "one metrics.csv per trained network, a header and a row per epoch",
                   csv.CSVLogger),
    ]


__all__ = ["EpochRecord", "LoggedRun", "Logger", "builtin_loggers"]
