"""Finding a data set's files under the data root, downloading them on request, and the one-line
error that says where they were looked for and how to get them when they are missing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from kdbench import paths
from kdbench.errors import DataNotFoundError
from kdbench.messages import one_line


def data_root(root: Path | str | None) -> Path:
    """The data root a factory was given, else the default one (``KDBENCH_DATA_DIR`` or the cache)."""
    return Path(root) if root is not None else paths.data_dir()


def locate(name: str, candidates: Sequence[Path], present: Callable[[Path], bool], *,
           what: str, download: bool = False, fetch: Callable[[], object] | None = None,
           how: str | None = None) -> Path:
    """The first of ``candidates`` where ``present`` holds.

    Missing and ``download`` set: ``fetch()`` (the ecosystem's own download code, which writes into
    ``candidates[0]``) runs and the candidates are searched again. Still missing: a one-line
    ``DataNotFoundError`` naming ``what`` was looked for, every searched path and how to get it.
    """
    for candidate in candidates:
        if present(candidate):
            return candidate
    searched = ", ".join(str(candidate) for candidate in candidates)
    if download and fetch is not None:
        try:
            fetch()
        except Exception as error:
            raise DataNotFoundError(f"{name}: download failed ({one_line(error)}); place {what} "
                                    f"under {candidates[0]} instead") from None
        for candidate in candidates:
            if present(candidate):
                return candidate
        raise DataNotFoundError(f"{name}: downloaded, but {what} are still not in {searched}")
    if how is None:
        how = (f"run with --download, or place them under {candidates[0]}" if fetch is not None
               else f"place them under {candidates[0]}")
    raise DataNotFoundError(f"{name}: {what} not found (searched {searched}); {how}")
