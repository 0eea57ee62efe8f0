"""kdbench's own files: atomic writes (a reader sees the old file or the new one, never half of one),
write failures as one-line errors, checks that output folders are writable, and unreadable cache
files moved aside.

Each write goes to ``.<name>.<random>.tmp`` beside its target and is renamed over it. A write
killed midway leaves that file behind; no reader looks at ``*.tmp`` names (they match no pattern
kdbench reads), and the next write of the same target removes those older than ``STALE_AFTER_S``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kdbench.errors import KdbenchError

STALE_AFTER_S = 3600.0  # far longer than any one write; younger ones may belong to a live process
log = logging.getLogger(__name__)


class OutputError(KdbenchError):
    """kdbench could not write one of its own files (a full disk, a read-only or missing folder)."""

    def __init__(self, problem: str, error: OSError):
        reason = f"[Errno {error.errno}] {error.strerror}" if error.strerror else str(error)
        super().__init__(f"{problem}: {reason}")


def remove_stale_temporaries(path: Path) -> None:
    """Remove the ``.tmp`` files that writes of ``path`` killed more than ``STALE_AFTER_S`` ago left."""
    cutoff = time.time() - STALE_AFTER_S
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except FileNotFoundError:  # another process removed it first
            pass


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a new empty file beside ``path`` (mode 0666 less the umask, like any other file); on
    success it replaces ``path`` in one rename. An ``OSError`` becomes an ``OutputError``."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as error:
        raise OutputError(f"cannot write {path}", error) from error
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as error:
        raise OutputError(f"cannot write {path}", error) from error
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def remove(path: Path) -> None:
    """Delete one of kdbench's files if it is there; a failure is an ``OutputError``."""
    try:
        path.unlink(missing_ok=True)
    except OSError as error:
        raise OutputError(f"cannot remove {path}", error) from None


def check_writable(folder: Path, what: str) -> None:
    """Create ``folder`` if needed and write (and remove) a file in it, so that a run that could
    not save what it trains stops before it starts; a failure names ``what`` and the folder."""
    probe = Path(folder) / f".write-check.{secrets.token_hex(6)}.tmp"
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        probe.unlink()
    except OSError as error:
        raise OutputError(f"{what} {folder} is not a writable folder", error) from None


def move_aside(path: Path, problem: str) -> Path:
    """Rename a corrupt cache file to ``<name>.corrupt`` (replacing an older one) so that it is
    made again, with a one-line warning naming it; returns the new path."""
    target = path.with_name(f"{path.name}.corrupt")
    try:
        os.replace(path, target)
    except OSError as error:
        raise OutputError(f"cannot move aside the corrupt {path}", error) from None
    log.warning("%s is corrupt (%s); moved it to %s and making it again", path, problem, target.name)
    return target
