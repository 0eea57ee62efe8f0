"""Typed descriptors that plugin hooks return: one frozen dataclass per kind of thing.

Each descriptor carries a ``name``, a one-line ``summary`` and the factory that builds the thing.
Parameters are pydantic models owned by the plugin, validated after all plugins are loaded.

Methods, models and data sets may declare a ``version`` of their own code (bump it when results
change, like lm-evaluation-harness's task versions); without one, the version of the distribution
that provides them counts. Either way it is part of every run id, so a changed plugin never reuses
results that older code made.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from kdbench.factories import DatasetFactory, LoggerFactory, MethodFactory, ModelFactory, ProbeFactory


class Params(BaseModel):
    """A base for plugins' parameter models: unknown keys are errors, instances are immutable,
    types are strict (no bool for an int, no string for a number), floats are finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class NoParams(Params):
    """Parameters of a thing that takes none."""


@dataclass(frozen=True)
class MethodInfo:
    """A distillation method.

    ``factory(student, teacher, params)`` returns a ``kdbench.methods.Distiller``; ``teacher`` is
    ``None`` when ``needs_teacher`` is false. ``Params`` is validated with the pydantic context
    ``{"recipe": <student Recipe>}`` so a default can depend on the schedule (ESKD's stop epoch).
    ``needs_labels``: the method trains on labels, so it is refused on data with ``labels: false``;
    a function of the validated params where that depends on them (KD needs labels only when its
    ``ce_weight`` is above 0). ``supports_ddp``: false for a method with state that ranks would not
    keep in agreement under torchrun (CRD's memory banks), or whose loss relates the examples of
    a batch (SP, RKD, PKT, CC, DIST: each rank sees only its shard); such runs are refused before training.
    """

    name: str
    summary: str
    factory: MethodFactory
    Params: type[BaseModel] = NoParams
    needs_teacher: bool = True
    needs_labels: bool | Callable[[Any], bool] = False
    version: str | None = None
    supports_ddp: bool = True

    def matches(self, name: str) -> bool:
        return name == self.name

    def labels_needed(self, params: Any) -> bool:
        """Whether the method with these validated params trains on labels."""
        return bool(self.needs_labels(params) if callable(self.needs_labels) else self.needs_labels)


@dataclass(frozen=True)
class ModelInfo:
    """A model family.

    ``pattern`` is a regular expression the full model name must match (``wrn-(?P<depth>\\d+)-(?P<k>\\d+)``);
    without one, the name itself. ``factory(name, params, in_channels=, image_size=, num_classes=)``
    returns an ``nn.Module``. ``check(name, params)``, when given, raises ``KdbenchError`` for a name
    the pattern matches but no model has (``wrn-15-2``), so ``kdbench validate`` reports it before
    any data loads. Modules may declare ``feature_taps: dict[str, str]`` (tap name to
    module path) for methods that read intermediate features through forward hooks.
    """

    name: str
    summary: str
    factory: ModelFactory
    Params: type[BaseModel] = NoParams
    pattern: str | None = None
    example: str | None = None
    check: Callable[[str, Any], Any] | None = None
    version: str | None = None

    def matches(self, name: str) -> bool:
        if self.pattern is None:
            return name == self.name
        return re.fullmatch(self.pattern, name) is not None


@dataclass(frozen=True)
class DatasetInfo:
    """A data set.

    ``factory(params, split, root=, download=)`` returns the split (``"train"`` or ``"test"``) as an
    object with ``num_classes``, ``in_channels``, ``image_size``, ``__len__`` and batch iterators
    (a ``kdbench.data.split.Split``: ``ImageTensors`` in memory, ``ImageStream`` from files).
    """

    name: str
    summary: str
    factory: DatasetFactory
    Params: type[BaseModel] = NoParams
    splits: tuple[str, ...] = ("train", "test")
    version: str | None = None

    def matches(self, name: str) -> bool:
        return name == self.name


@dataclass(frozen=True)
class TrackInfo:
    """A benchmark track: a YAML spec file, validated by ``kdbench.specs.TrackSpec``."""

    name: str
    summary: str
    path: Path
    tags: tuple[str, ...] = field(default_factory=tuple)

    def matches(self, name: str) -> bool:
        return name == self.name


@dataclass(frozen=True)
class LoggerInfo:
    """A training logger (TensorBoard, CSV, W&B, ...), chosen with ``kdbench run --log NAME``.

    ``factory(params, run)`` is called once per trained network (each student run and each teacher
    member) with a ``kdbench.loggers.LoggedRun`` and returns a ``kdbench.loggers.Logger``.
    ``check()``, when given, raises ``KdbenchError`` when the logger cannot work here (a missing
    package), so ``kdbench run`` stops before anything trains.
    """

    name: str
    summary: str
    factory: LoggerFactory
    Params: type[BaseModel] = NoParams
    check: Callable[[], Any] | None = None

    def matches(self, name: str) -> bool:
        return name == self.name


@dataclass(frozen=True)
class ExecutorInfo:
    """Where a sweep's jobs run, chosen with ``kdbench run --executor NAME``.

    ``factory(params)`` returns an executor: an object with ``run(jobs, context, view)`` that runs
    each job of ``jobs`` (a ``kdbench.execution.jobs`` job, after the jobs its ``needs`` name) with
    ``kdbench.execution.execute.execute`` and yields its ``Outcome`` as it finishes. ``Params`` are
    set with ``--executor-opt key=value``. ``check()``, when given, raises ``KdbenchError`` when the
    executor cannot work here (its package is missing), before anything runs.
    """

    name: str
    summary: str
    factory: Callable[..., Any]
    Params: type[BaseModel] = NoParams
    check: Callable[[], Any] | None = None

    def matches(self, name: str) -> bool:
        return name == self.name


@dataclass(frozen=True)
class ProbeInfo:
    """A property probe (Ojha et al., NeurIPS 2023): what a student took from its teacher beyond
    its accuracy, such as an invariance or an adversarial vulnerability.

    ``factory(student, teacher, reference, split, params, device=, generator=)`` returns a number
    for each name of ``units`` (the unit: ``"%"`` for a percentage in [0, 100], else a word);
    networks are in eval mode on ``device``, and ``generator`` (on the CPU) draws any randomness.
    ``needs_reference``: the probe compares the student with ``reference``, a student of the same
    architecture and seed trained without the teacher (the track's ``ce`` run).
    """

    name: str
    summary: str
    factory: ProbeFactory
    units: dict[str, str]
    Params: type[BaseModel] = NoParams
    needs_reference: bool = False
    version: str | None = None

    def matches(self, name: str) -> bool:
        return name == self.name
