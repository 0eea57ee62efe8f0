# mypy: disable-error-code="empty-body"
# (hook specifications have signatures and docstrings, never bodies)
"""The hooks a kdbench plugin implements. Each returns an iterable of typed descriptors.

A plugin is a module (or object) registered under the entry-point group ``kdbench``::

    [project.entry-points.kdbench]
    mymethod = "kdbench_mymethod.plugin"

kdbench's own built-ins travel the same road (``kdbench.builtin``).
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from kdbench.types import (
    DatasetInfo,
    ExecutorInfo,
    LoggerInfo,
    MethodInfo,
    ModelInfo,
    ProbeInfo,
    TrackInfo,
)

hookspec = pluggy.HookspecMarker("kdbench")


@hookspec
def kdbench_methods() -> Iterable[MethodInfo]:
    """Return the distillation methods this plugin provides.

    Example::

        @hookimpl  # from kdbench.plugin
        def kdbench_methods():
            yield MethodInfo(name="dkd", summary="Decoupled KD", factory=DKD, Params=DKDParams)
    """


@hookspec
def kdbench_models() -> Iterable[ModelInfo]:
    """Return the model families this plugin provides.

    Example::

        @hookimpl  # from kdbench.plugin
        def kdbench_models():
            yield ModelInfo(name="wrn", summary="Wide ResNet", factory=build_wrn,
                            pattern=r"wrn-(?P<depth>\\d+)-(?P<k>\\d+)", example="wrn-16-2")
    """


@hookspec
def kdbench_datasets() -> Iterable[DatasetInfo]:
    """Return the data sets this plugin provides.

    Example::

        @hookimpl  # from kdbench.plugin
        def kdbench_datasets():
            yield DatasetInfo(name="svhn", summary="Street View House Numbers", factory=load_svhn)
    """


@hookspec
def kdbench_tracks() -> Iterable[TrackInfo]:
    """Return the benchmark tracks (YAML spec files) this plugin provides.

    Example::

        @hookimpl  # from kdbench.plugin
        def kdbench_tracks():
            yield TrackInfo(name="my-track", summary="...", path=Path(__file__).parent / "my.yaml")
    """


@hookspec
def kdbench_loggers() -> Iterable[LoggerInfo]:
    """Return the training loggers this plugin provides (``kdbench run --log NAME``).

    The factory is called once per trained network and returns a ``kdbench.loggers.Logger``: an
    object with ``log_epoch(epoch, record)`` and ``close()``.

    Example::

        @hookimpl  # from kdbench.plugin
        def kdbench_loggers():
            yield LoggerInfo(name="wandb", summary="Weights & Biases", factory=WandbLogger,
                             check=require_wandb)
    """


@hookspec
def kdbench_executors() -> Iterable[ExecutorInfo]:
    """Return the executors this plugin provides (``kdbench run --executor NAME``).

    The factory is called with the validated ``Params`` (``--executor-opt key=value``) and returns
    an object whose ``run(jobs, context, view)`` yields each job's ``Outcome`` as it finishes.

    Example::

        @hookimpl  # from kdbench.plugin
        def kdbench_executors():
            yield ExecutorInfo(name="dask", summary="a Dask cluster", factory=DaskExecutor,
                               Params=DaskParams, check=require_dask)
    """


@hookspec
def kdbench_probes() -> Iterable[ProbeInfo]:
    """Return the property probes this plugin provides (a track's ``probes``).

    The factory is called after training as ``factory(student, teacher, reference, split, params,
    device=, generator=)`` and returns the probe's named numbers.

    Example::

        @hookimpl  # from kdbench.plugin
        def kdbench_probes():
            yield ProbeInfo(name="shape-bias", summary="shape over texture decisions",
                            factory=shape_bias, units={"student": "%", "teacher": "%"})
    """
