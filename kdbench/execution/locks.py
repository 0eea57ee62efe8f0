"""Locks that let any number of runners share one results folder and one cache: one per teacher
network and one per run, as files under ``<cache>/locks``.

They are ``filelock.FileLock`` (``flock`` on POSIX): the kernel releases a lock when the process
that holds it dies, however it dies, so a ``kill -9`` leaves no stale lock behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from kdbench.fileio import OutputError


def lock_path(cache: Path, kind: str, name: str) -> Path:
    """``<cache>/locks/<kind>-<name>.lock``, for a ``teacher`` id or a ``run`` id."""
    return Path(cache) / "locks" / f"{kind}-{name}.lock"


@contextmanager
def held(cache: Path, kind: str, name: str, wait: bool = True) -> Iterator[bool]:
    """Hold the lock of one teacher or run while the block runs; yields False at once, holding
    nothing, when another process holds it and ``wait`` is false."""
    path = lock_path(cache, kind, name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(path)
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        yield False
        return
    except OSError as error:
        raise OutputError(f"cannot lock {path}", error) from None
    try:
        yield True
    finally:
        lock.release()
