"""Where kdbench keeps things by default: a cache (teachers, checkpoints) and a data folder."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``KDBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/kdbench``, else ``~/.cache/kdbench``."""
    if os.environ.get("KDBENCH_CACHE_DIR"):
        return Path(os.environ["KDBENCH_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "kdbench"


def data_dir() -> Path:
    """``KDBENCH_DATA_DIR``, else ``<cache>/data``."""
    if os.environ.get("KDBENCH_DATA_DIR"):
        return Path(os.environ["KDBENCH_DATA_DIR"])
    return cache_dir() / "data"
