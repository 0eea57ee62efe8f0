"""Executors: where a sweep's jobs run. The built-ins (``local``, ``ray``, ``slurm``) are plugins
like any other; one is chosen with ``--executor NAME`` and set with ``--executor-opt key=value``.
Ray and submitit are imported only by the executor that uses them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal, Protocol

from pydantic import Field, ValidationError

from kdbench.errors import KdbenchError
from kdbench.execution.context import Context
from kdbench.execution.events import View
from kdbench.execution.jobs import Job, Outcome
from kdbench.plugins import PluginManager, one_line
from kdbench.types import ExecutorInfo, Params
from kdbench.yamlload import load_yaml


class Executor(Protocol):
    """Runs ``jobs``, each after the jobs its ``needs`` name, and yields each ``Outcome``."""

    def run(self, jobs: list[Job], context: Context, view: View) -> Iterator[Outcome]: ...


class LocalParams(Params):
    jobs: int = Field(1, ge=1, description="worker processes (spawned); 1 runs every job in this "
                      "process. CPU threads are split between them, and each takes one GPU, in turn")


class RayParams(Params):
    address: str | None = Field(None, description="the Ray cluster to use (auto, or ray://host:10001); "
                                "none starts a local Ray for the sweep")
    num_cpus: float = Field(1.0, gt=0, description="CPUs each job asks for")
    num_gpus: float = Field(0.0, ge=0, description="GPUs each job asks for")


class SlurmParams(Params):
    folder: str = Field("slurm", description="where submitit keeps the jobs' logs and pickles (shared)")
    partition: str | None = Field(None, description="the SLURM partition")
    time: int = Field(60, gt=0, description="minutes each job may run")
    gpus: int = Field(0, ge=0, description="GPUs each job asks for")
    cpus: int = Field(1, gt=0, description="CPUs each job asks for")
    mem_gb: float = Field(8.0, gt=0, description="memory each job asks for, in GB")
    array_parallelism: int = Field(64, ge=1, description="jobs of one array that run at once")
    cluster: Literal["slurm", "local", "debug"] | None = Field(
        None, description="submitit's cluster: none picks SLURM where there is one; local runs "
        "the jobs as local processes, debug in this process")


def local(params: LocalParams) -> Executor:
    from kdbench.execution.local import LocalExecutor

    return LocalExecutor(params.jobs)


def ray(params: RayParams) -> Executor:
    from kdbench.execution.ray import RayExecutor

    return RayExecutor(params.address, params.num_cpus, params.num_gpus)


def slurm(params: SlurmParams) -> Executor:
    from kdbench.execution.slurm import SlurmExecutor

    return SlurmExecutor(params)


def requires(module: str, extra: str) -> Any:
    """A ``check`` that fails in one line when ``module`` is not installed."""
    def check() -> None:
        try:
            __import__(module)
        except ImportError:
            raise KdbenchError(f"this executor needs {module}: pip install \"kdbench[{extra}]\"") from None
    return check


def builtin_executors() -> list[ExecutorInfo]:
    return [
        ExecutorInfo("local", "this machine: in this process, or --jobs N worker processes", local,
                     LocalParams),
        ExecutorInfo("ray", "a Ray cluster (or a local Ray): one task per job with its resources",
                     ray, RayParams, check=requires("ray", "ray")),
        ExecutorInfo("slurm", "a SLURM cluster through submitit: one job per job, teachers first",
                     slurm, SlurmParams, check=requires("submitit", "slurm")),
    ]


def parse_options(texts: Iterable[str]) -> dict[str, Any]:
    """``["jobs=2", "address=auto"]`` -> ``{"jobs": 2, "address": "auto"}`` (values read as YAML)."""
    options: dict[str, Any] = {}
    for text in texts:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise KdbenchError(f"--executor-opt {text}: give KEY=VALUE, e.g. jobs=2")
        try:
            options[key.strip()] = load_yaml(value) if value.strip() else None
        except Exception as error:
            raise KdbenchError(f"--executor-opt {text}: the value is not valid YAML "
                               f"({one_line(error)})") from None
    return options


def choose(pm: PluginManager, name: str, options: dict[str, Any]) -> Executor:
    """The executor ``name`` with ``options``, checked; any problem is one line naming the option."""
    try:
        entry = pm.executors.find(name)
    except KdbenchError as error:
        raise KdbenchError(f"--executor {name}: {error}") from None
    try:
        params = entry.info.Params.model_validate(options)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        given = f"={options[where]}" if where in options else ""
        raise KdbenchError(f"--executor-opt {where}{given}: {first['msg']} (executor {name!r}; "
                           "`kdbench list executors`)") from None
    if entry.info.check is not None:
        try:
            entry.info.check()
        except KdbenchError as error:
            raise KdbenchError(f"--executor {name}: {error}") from None
    try:
        return entry.info.factory(params)
    except KdbenchError:
        raise
    except Exception as error:  # a broken plugin
        raise KdbenchError(f"--executor {name}: plugin {entry.plugin!r} ({entry.distribution}) "
                           f"raised {one_line(error)}") from None
