"""TensorBoard: the scalars of every epoch in one event-file folder per trained network, written
with PyTorch's ``SummaryWriter`` (``tensorboard --logdir runs`` shows them)."""

from __future__ import annotations

from typing import Any

from kdbench.errors import KdbenchError
from kdbench.loggers.base import EpochRecord, LoggedRun


def require_tensorboard() -> None:
    """Raise a one-line error saying how to install TensorBoard when it is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise KdbenchError("logger 'tensorboard' needs the tensorboard package, which is not "
                           'installed: pip install "kdbench[tensorboard]"') from None


class TensorBoardLogger:
    """Writes ``EpochRecord.scalars()`` with the epoch as the step into ``run.log_dir``; a resumed
    run purges the steps from its first new epoch on, as ``SummaryWriter(purge_step=)`` does."""

    def __init__(self, params: Any, run: LoggedRun):
        self.run = run
        self._writer: Any = None

    def log_epoch(self, epoch: int, record: EpochRecord) -> None:
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.run.log_dir), purge_step=epoch)
        for tag, value in record.scalars().items():
            self._writer.add_scalar(tag, value, epoch)
        self._writer.flush()  # so that a running TensorBoard shows the epoch now

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
