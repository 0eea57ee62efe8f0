"""The public API for plugin authors, in one namespace: ``from kdbench.plugin import ...``.

Only this module and ``kdbench.testing`` are public; every other module of kdbench is private and
may change in any release. ``API_VERSION`` follows semantic versioning: a minor release adds names,
a major release may change or remove them. A plugin module declares the API it was built for as
``KDBENCH_API = "1"`` (a major version, or ``"1.0"`` for a minimum minor); kdbench skips, and
reports, a plugin built for another major version or a newer minor one.

The hook marker, descriptors, errors and factory protocols import without torch; the names that
need torch (``Distiller``, ``Batch``, ``ImageTensors``, the feature taps, the losses) are imported
on first use, so a plugin that provides only tracks keeps ``kdbench list`` fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kdbench import hookimpl
from kdbench.errors import DataNotFoundError, KdbenchError, ParamError
from kdbench.factories import DatasetFactory, LoggerFactory, MethodFactory, ModelFactory, ProbeFactory
from kdbench.types import (
    DatasetInfo,
    ExecutorInfo,
    LoggerInfo,
    MethodInfo,
    ModelInfo,
    NoParams,
    Params,
    ProbeInfo,
    TrackInfo,
)

if TYPE_CHECKING:
    from kdbench.data.split import Split
    from kdbench.data.tensors import Batch, ImageTensors
    from kdbench.execution.events import LocalReporter
    from kdbench.execution.execute import execute
    from kdbench.loggers.base import EpochRecord, LoggedRun, Logger
    from kdbench.methods.base import Distiller
    from kdbench.methods.ce import ce_loss
    from kdbench.methods.kd import kd_loss
    from kdbench.methods.taps import FeatureTap, FeatureTaps, probe
    from kdbench.models.cfg import ModelCfg

API_VERSION = "1.1"

_LAZY = {
    "Split": "kdbench.data.split",
    "Batch": "kdbench.data.tensors",
    "ImageTensors": "kdbench.data.tensors",
    "EpochRecord": "kdbench.loggers.base",
    "LoggedRun": "kdbench.loggers.base",
    "Logger": "kdbench.loggers.base",
    "Distiller": "kdbench.methods.base",
    "ce_loss": "kdbench.methods.ce",
    "kd_loss": "kdbench.methods.kd",
    "FeatureTap": "kdbench.methods.taps",
    "FeatureTaps": "kdbench.methods.taps",
    "probe": "kdbench.methods.taps",
    "ModelCfg": "kdbench.models.cfg",
    "execute": "kdbench.execution.execute",
    "LocalReporter": "kdbench.execution.events",
}


def __getattr__(name: str) -> Any:
    """Import a torch-backed name on first use (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'kdbench.plugin' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "API_VERSION", "Batch", "DataNotFoundError", "DatasetFactory", "DatasetInfo", "Distiller",
    "EpochRecord", "ExecutorInfo", "FeatureTap", "FeatureTaps", "ImageTensors", "KdbenchError",
    "LocalReporter", "LoggedRun", "Logger", "LoggerFactory", "LoggerInfo", "MethodFactory", "MethodInfo",
    "ModelCfg", "ModelFactory", "ModelInfo", "NoParams", "ParamError", "Params", "ProbeFactory", "ProbeInfo",
    "Split", "TrackInfo",
    "ce_loss", "execute", "hookimpl", "kd_loss", "probe",
]
