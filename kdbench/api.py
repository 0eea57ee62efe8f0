"""The Python API, for notebooks and scripts: ``kdbench.run`` runs a track and returns its
results, ``kdbench.load_results`` reads a results folder as rows. The command line calls the same
functions (``prepare``, then ``Sweep.plan`` and ``execution.sweep.sweep``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kdbench import paths
from kdbench.engine import distributed
from kdbench.engine.step import DEFAULT_OPTIONS, EngineOptions
from kdbench.errors import KdbenchError, SpecError
from kdbench.execution import ddp
from kdbench.execution.context import Context
from kdbench.execution.executors import Executor, choose
from kdbench.execution.planner import Plan, plan
from kdbench.results import ResultStore, RunResult, check_results_dir
from kdbench.specs import RunSpec, TrackSpec

if TYPE_CHECKING:
    from kdbench.data.source import DataSource
    from kdbench.plugins import PluginManager

log = logging.getLogger("kdbench.api")


@dataclass(frozen=True)
class Sweep:
    """A track's runs at one budget, checked and ready: where they go and what runs them."""

    track: TrackSpec
    budget: str
    source: Path
    runs: list[RunSpec]
    context: Context
    executor: Executor
    reuse_stale: bool = False
    logits_methods: frozenset[str] | None = None
    """The methods that read only the teacher's logits (a view bank can serve them)."""
    unbankable: frozenset[str] = frozenset()
    """The runs whose training data can have no view bank (streamed, or a bank over the limit)."""

    def plan(self) -> Plan:
        """The jobs left to do, as the results and cache folders stand now."""
        return plan(self.runs, ResultStore(self.context.results), self.context.cache,
                    rerun=self.context.rerun, reuse_stale=self.reuse_stale,
                    view_bank=self.context.engine.view_bank, logits_methods=self.logits_methods,
                    unbankable=self.unbankable)


def prepare(track: str | os.PathLike[str], budget: str = "full", *, seeds: Sequence[int] | None = None,
            overrides: Sequence[str] = (), executor: str = "local",
            executor_options: dict[str, Any] | None = None, results: str | os.PathLike[str] | None = None,
            cache: str | os.PathLike[str] | None = None, data_dir: str | os.PathLike[str] | None = None,
            device: str = "auto", download: bool = False, rerun: bool = False,
            reuse_stale: bool = False, log: Sequence[str] = (), log_dir: str | os.PathLike[str] = "runs",
            strict_plugins: bool = False, precision: str | None = None,
            engine: EngineOptions = DEFAULT_OPTIONS,
            teacher_checkpoints: str | os.PathLike[str] | None = None) -> Sweep:
    """Load, override, validate and expand ``track`` (an installed track's name or a YAML file),
    choose its executor and check its data: every problem a user can fix is a ``KdbenchError``
    here, before anything trains. Under torchrun, join the process group: each run trains on
    every rank (DDP) and ranks other than 0 print nothing. ``precision`` sets every recipe's
    (``--precision``); ``engine`` says how steps run (memory format, ``torch.compile``);
    ``teacher_checkpoints`` is a folder of teacher checkpoint files (``--teacher-checkpoints``)."""
    from kdbench.checkpoint_dir import checkpoint_overrides
    from kdbench.data.source import DataSource
    from kdbench.engine.precision import precision_overrides
    from kdbench.engine.step import check_options
    from kdbench.expand import expand
    from kdbench.loggers.group import LoggerGroup
    from kdbench.overrides import parse_overrides
    from kdbench.plugins import get_plugin_manager
    from kdbench.preflight import checkpoint_problems, data_problems
    from kdbench.runner import resolve_device
    from kdbench.specfile import load_track_file
    from kdbench.trackpath import track_path

    group = distributed.from_environ()
    parsed = parse_overrides(list(overrides))
    pm = get_plugin_manager(strict=True if strict_plugins else None)
    LoggerGroup.from_names(pm, log, Path(log_dir))
    path = track_path(os.fspath(track), pm)
    spec, root = load_track_file(path, parsed)
    if precision is not None:
        parsed = (*parsed, *precision_overrides(precision, spec))
        spec, root = load_track_file(path, parsed)
    if teacher_checkpoints is not None:
        parsed = (*parsed, *checkpoint_overrides(Path(teacher_checkpoints), spec))
        spec, root = load_track_file(path, parsed)
    runs = expand(spec, budget, pm, seeds=tuple(seeds) if seeds is not None else None,
                  source=str(path), root=root)
    chosen = choose(pm, executor, dict(executor_options or {}))
    if group is not None:
        ddp.check(group, executor, dict(executor_options or {}), runs, pm)
        chosen, device, log = ddp.DistributedExecutor(group), distributed.device_for(group, device), \
            log if group.main else ()
    resolved = resolve_device(device)
    precisions = {r.recipe.precision for r in runs} | {r.teacher.recipe.precision for r in runs if r.teacher}
    for wanted in sorted(precisions | {"fp32"}):
        check_options(engine, wanted, resolved)
    context = Context(results=Path(results) if results is not None else results_dir(None),
                      cache=Path(cache) if cache is not None else paths.cache_dir(),
                      data_dir=Path(data_dir) if data_dir is not None else paths.data_dir(),
                      device=device, download=download, rerun=rerun, log=tuple(log),
                      log_dir=Path(log_dir), strict_plugins=strict_plugins, group=group, engine=engine)
    data = DataSource(pm, context.data_dir, download=download)
    problems = data_problems(runs, data) or checkpoint_problems(runs, pm, data, context.cache)
    if problems:
        raise SpecError(str(path), problems)
    if group is not None:
        distributed.start(group, resolve_device(device))
        ddp.quiet(group)
    return Sweep(spec, budget, path, runs, context, chosen, reuse_stale, logits_methods(pm),
                 unbankable(runs, data))


def logits_methods(pm: PluginManager) -> frozenset[str]:
    """The installed methods whose distiller class declares it reads only the teacher's logits."""
    return frozenset(entry.info.name for entry in pm.methods
                     if getattr(entry.info.factory, "teacher_outputs", None) == "logits")


def unbankable(runs: list[RunSpec], data: DataSource) -> frozenset[str]:
    """The runs with a teacher on augmented data that can have no view bank: their images are
    streamed, or the bank would pass its size limit (``why_not_bank_data``), so that the plan
    does not promise one that no job could make."""
    from kdbench.engine.view_bank import why_not_bank_data

    return frozenset(spec.run_id for spec in runs if spec.teacher is not None and spec.recipe.augment
                     and why_not_bank_data(spec.recipe, data.training(spec.distill_data, spec.dataset,
                                                                      spec.train_limit)) is not None)


def run(track: str | os.PathLike[str], budget: str = "full", *, seeds: Sequence[int] | None = None,
        executor: str = "local", results: str | os.PathLike[str] | None = None,
        progress: bool | None = None, **options: Any) -> list[RunResult]:
    """Run ``track`` at ``budget`` and return every run's result, in the order of its runs;
    finished runs are read back, not run again. ``executor`` is ``local``, ``ray``, ``slurm`` or
    a plugin's; ``executor_options``, ``cache``, ``data_dir``, ``device``, ``overrides`` (``PATH=VALUE``
    strings), ``rerun`` and the others of ``prepare`` are passed on. ``progress``: show live bars
    (default: when stderr is a terminal)."""
    from kdbench.execution.sweep import sweep
    from kdbench.probes.measure import probe_sweep
    from kdbench.progress import Progress

    prepared = prepare(track, budget, seeds=seeds, executor=executor, results=results, **options)
    with Progress(len(prepared.runs), live=progress) as shown:
        finished = sweep(prepared.plan(), prepared.context, prepared.executor, shown)
    probe_sweep(prepared.track, prepared.runs, finished, prepared.context, say=log.info)
    return finished


def results_dir(given: str | os.PathLike[str] | None) -> Path:
    """``given``, else ``KDBENCH_RESULTS``, else ``./results``: where runs write."""
    return Path(given) if given is not None else Path(os.environ.get("KDBENCH_RESULTS") or "results")


ROW_COLUMNS = ("run_id", "track", "budget", "method", "teacher", "student", "seed", "status",
               "reason", "teacher_params", "student_params", "wall_s")
"""The columns of every row, before its metrics (an empty folder's DataFrame has them too)."""


def row(result: RunResult) -> dict[str, Any]:
    """One result as a flat row: what ran, its status and every metric as ``<split>.<metric>``."""
    spec = result.spec
    values: dict[str, Any] = dict(zip(ROW_COLUMNS, (
        result.run_id, spec.track, spec.budget, spec.method_label, spec.teacher_label,
        spec.student_label, spec.seed, result.status, result.reason, result.teacher_params,
        result.student_params, result.timing.get("wall_s")), strict=True))
    for split, metrics in sorted(result.metrics.items()):
        values.update({f"{split}.{name}": value for name, value in sorted(metrics.items())})
    return values


def load_results(results: str | os.PathLike[str] | None = None, track: str | None = None) -> Any:
    """Every valid result under ``results`` (default ``KDBENCH_RESULTS``, else ``./results``), of
    one ``track`` or all, as rows: a pandas DataFrame when pandas is installed, else a list of
    dicts. Files that fail their checks are left out, each with a warning."""
    root = results_dir(results)
    check_results_dir(root)
    if track is not None and ("/" in track or track in ("", ".", "..")):
        raise KdbenchError(f"track {track!r}: give a track's name")
    scan = ResultStore(root).scan(track)
    for problem in scan.rejected:
        log.warning("%s; left out", problem)
    rows = [row(result) for result in scan.results]
    try:
        import pandas
    except ImportError:
        return rows
    return pandas.DataFrame(rows, columns=list(ROW_COLUMNS) if not rows else None)
