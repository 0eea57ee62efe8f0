"""CSV: one ``metrics.csv`` per trained network in its log folder, a header and a row per epoch;
the columns are ``epoch`` and the scalar tags (``loss/kd``, ``lr``, ``test/acc``, ...)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from kdbench.fileio import write_text_atomic
from kdbench.loggers.base import EpochRecord, LoggedRun


def earlier_rows(path: Path, before: int) -> list[dict[str, str]]:
    """The rows of an existing ``metrics.csv`` for epochs before ``before`` (a resumed run keeps
    them); rows whose epoch is not a number are dropped."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    kept = []
    for row in rows:
        epoch = row.get("epoch") or ""
        if epoch.isdigit() and int(epoch) < before:
            kept.append({key: value for key, value in row.items() if key is not None and value})
    return kept


def render(rows: list[dict[str, str]]) -> str:
    """CSV text with a header of every column, in the order columns first appear."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


class CSVLogger:
    """Rewrites ``<log_dir>/metrics.csv`` atomically after every epoch, so it is always whole. A
    term that a method stops returning (ESKD's ``kd`` after its stop epoch) leaves its cell empty."""

    def __init__(self, params: Any, run: LoggedRun):
        self.path = run.log_dir / "metrics.csv"
        self._rows: list[dict[str, str]] | None = None

    def log_epoch(self, epoch: int, record: EpochRecord) -> None:
        if self._rows is None:
            self._rows = earlier_rows(self.path, epoch)
        cells = {tag: repr(float(value)) for tag, value in record.scalars().items()}
        self._rows.append({"epoch": str(epoch), **cells})
        write_text_atomic(self.path, render(self._rows))

    def close(self) -> None:
        """Nothing is held open between epochs."""
