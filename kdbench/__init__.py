"""kdbench: a plugin-based benchmark suite for knowledge distillation.

The public API for plugin authors is ``kdbench.plugin`` (and ``kdbench.testing``); the names
here (``hookimpl``, the descriptor types) stay for plugins written before it. Importing this
package is cheap; torch is only imported by the modules that need it.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pluggy

from kdbench.types import DatasetInfo, ExecutorInfo, LoggerInfo, MethodInfo, ModelInfo, TrackInfo

try:
    __version__ = version("kdbench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

hookimpl = pluggy.HookimplMarker("kdbench")

__all__ = ["DatasetInfo", "ExecutorInfo", "LoggerInfo", "MethodInfo", "ModelInfo", "TrackInfo", "__version__",
           "hookimpl", "load_results", "run"]


def __getattr__(name: str) -> Any:
    """``kdbench.run`` and ``kdbench.load_results``, imported on first use (they need torch)."""
    if name in ("run", "load_results"):
        from kdbench import api

        return getattr(api, name)
    raise AttributeError(f"module 'kdbench' has no attribute {name!r}")
