"""kdbench: a plugin-based benchmark suite for knowledge distillation.

The public API for plugin authors is ``kdbench.plugin`` (and ``kdbench.testing``); the names
here (``hookimpl``, the descriptor types) stay for plugins written before it. Importing this
package is cheap; torch is only imported by the modules that need it.
"""

from importlib.metadata import PackageNotFoundError, version

import pluggy

from kdbench.types import DatasetInfo, LoggerInfo, MethodInfo, ModelInfo, TrackInfo

try:
    __version__ = version("kdbench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

hookimpl = pluggy.HookimplMarker("kdbench")

__all__ = ["DatasetInfo", "LoggerInfo", "MethodInfo", "ModelInfo", "TrackInfo", "__version__", "hookimpl"]
