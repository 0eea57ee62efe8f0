"""kdbench's own plugin: the built-in methods, models, data sets, tracks, loggers and executors, registered
through the ``kdbench`` entry-point group exactly as a third-party package would."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import yaml

from kdbench import hookimpl
from kdbench.data import builtin_datasets
from kdbench.execution.executors import builtin_executors
from kdbench.loggers import builtin_loggers
from kdbench.methods import builtin_methods
from kdbench.models import builtin_models
from kdbench.probes import builtin_probes
from kdbench.types import DatasetInfo, ExecutorInfo, LoggerInfo, MethodInfo, ModelInfo, ProbeInfo, TrackInfo

# The plugin API these built-ins were written for (``kdbench.plugin.API_VERSION``'s major).
KDBENCH_API = "1"

TRACKS_DIR = Path(__file__).parent / "tracks"

# The code version of every built-in method, model family and data set that does not declare its
# own: results stay valid across kdbench releases until the built-in's own version is bumped.
BUILTIN_VERSION = "1"

Info = TypeVar("Info", MethodInfo, ModelInfo, DatasetInfo, ProbeInfo)


def versioned(infos: list[Info]) -> list[Info]:
    """``infos`` with ``version`` set to ``BUILTIN_VERSION`` where they declare none."""
    return [info if info.version else replace(info, version=BUILTIN_VERSION) for info in infos]


@hookimpl
def kdbench_methods() -> list[MethodInfo]:
    return versioned(builtin_methods())


@hookimpl
def kdbench_models() -> list[ModelInfo]:
    return versioned(builtin_models())


@hookimpl
def kdbench_datasets() -> list[DatasetInfo]:
    return versioned(builtin_datasets())


@hookimpl
def kdbench_tracks() -> list[TrackInfo]:
    tracks = []
    for path in sorted(TRACKS_DIR.glob("*.yaml")):
        head = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        tracks.append(TrackInfo(path.stem, str(head.get("title", "")), path))
    return tracks


@hookimpl
def kdbench_loggers() -> list[LoggerInfo]:
    return builtin_loggers()


@hookimpl
def kdbench_executors() -> list[ExecutorInfo]:
    return builtin_executors()


@hookimpl
def kdbench_probes() -> list[ProbeInfo]:
    return versioned(builtin_probes())
