"""Time steady-state distillation steps of the engine: the ``TrainStep`` that ``fit`` runs, on
the batches ``fit`` draws, with randomly initialized networks."""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from kdbench.bench.data import synthetic, training_split
from kdbench.bench.refs import parse_ref
from kdbench.build import build_distiller, build_model
from kdbench.cost import TeacherForwards
from kdbench.data import Batch
from kdbench.data.augment import view_count
from kdbench.data.split import Split
from kdbench.data.tensors import ImageTensors
from kdbench.engine.evaluate import predict
from kdbench.engine.optim import make_optimizer
from kdbench.engine.step import EngineOptions, TrainStep, check_options
from kdbench.engine.teacher_logits import LogitsTable, can_serve
from kdbench.engine.view_bank import ViewBank, make_bank, why_not_bank
from kdbench.errors import KdbenchError
from kdbench.machine import describe
from kdbench.methods import Distiller
from kdbench.plugins import PluginManager
from kdbench.resolve import Resolver
from kdbench.specs import Recipe, Ref


@dataclass(frozen=True)
class BenchSettings:
    """What to time: the networks and method (``name`` or ``name(key=value, ...)``), the data
    and the engine's settings; ``warmup`` steps (compilation included) are timed apart."""

    teacher: str
    student: str
    dataset: str
    method: str = "kd"
    batch_size: int = 128
    augment: tuple[str, ...] = ("crop", "flip")
    precision: str = "fp32"
    compile: str | None = None
    memory_format: str = "auto"
    device: str = "auto"
    steps: int = 20
    warmup: int = 3
    synthetic: bool = False
    seed: int = 0
    view_bank: bool = False
    examples: int | None = None
    """The images trained on: the first ``examples`` of the split (None: all of it; synthetic
    data: four batches)."""


@dataclass(frozen=True)
class BenchResult:
    """Throughput in steady state, the teacher forwards it took per trained image, and where."""

    settings: BenchSettings
    images_per_s: float
    teacher_forwards_per_image: float
    warmup_s: float
    steady_s: float
    step_s_median: float
    device: str
    hardware: dict[str, Any] = field(default_factory=dict)
    teacher_table_s: float | None = None
    """Seconds to make the teacher's logits table (one forward per training image, as ``kdbench
    run`` does once per teacher and split), or None when the teacher ran live on every batch."""
    teacher_bank_s: float | None = None
    """Seconds to make the teacher's view bank (``bank_views`` forwards per training image, once
    per teacher for a whole sweep), or None without ``--view-bank``."""
    bank_views: int | None = None
    examples: int = 0

    def as_json(self) -> dict[str, Any]:
        """One flat object: the figures, the machine and every setting."""
        return {"images_per_s": self.images_per_s,
                "teacher_forwards_per_image": self.teacher_forwards_per_image,
                "warmup_s": self.warmup_s, "steady_s": self.steady_s,
                "step_s_median": self.step_s_median, "device": self.device,
                "teacher_table_s": self.teacher_table_s, "teacher_bank_s": self.teacher_bank_s,
                "bank_views": self.bank_views, "examples": self.examples,
                "torch": torch.__version__, "python": platform.python_version(),
                "threads": torch.get_num_threads(), "hardware": self.hardware,
                **{key: list(value) if isinstance(value, tuple) else value
                   for key, value in asdict(self.settings).items() if key not in ("device", "examples")}}

    def summary(self) -> str:
        s = self.settings
        table = ("" if self.teacher_table_s is None
                 else f" (its logits served from a table made in {self.teacher_table_s:.2f} s)")
        if self.teacher_bank_s is not None:
            table = (f" (its logits served from a view bank of {self.bank_views} views of "
                     f"{self.examples} images made in {self.teacher_bank_s:.2f} s)")
        return (f"{s.method}: {s.teacher} -> {s.student} on {s.dataset}"
                f"{' (synthetic)' if s.synthetic else ''}, batch {s.batch_size}, "
                f"augment {','.join(s.augment) or 'none'}, {s.precision}, "
                f"{'compile ' + s.compile if s.compile else 'eager'}, {self.device}, "
                f"{torch.get_num_threads()} threads: {self.images_per_s:,.0f} images/s "
                f"({s.steps} steps, median {self.step_s_median * 1000:.1f} ms), "
                f"{self.teacher_forwards_per_image:g} teacher forwards per image"
                f"{table}, warm-up {self.warmup_s:.2f} s ({s.warmup} steps)")


def _resolved(pm: PluginManager, text: str, option: str, kind: str) -> Ref:
    """``text`` as a checked ``Ref`` of ``kind`` (models or methods); a problem is one line."""
    resolver = Resolver(option, None)
    ref = resolver.ref(pm.catalog(kind), parse_ref(text, option), ())
    if ref is None:
        where, _, problem = resolver.problems[0].partition(": ")
        raise KdbenchError(f"{option} {text}: {problem if where == 'name' else resolver.problems[0]}")
    return ref


def _check(settings: BenchSettings) -> None:
    for name in ("batch_size", "steps", "examples"):
        if getattr(settings, name) is not None and getattr(settings, name) < 1:
            raise KdbenchError(f"--{name.replace('_', '-')} {getattr(settings, name)}: give 1 or more")
    if settings.warmup < 0:
        raise KdbenchError(f"--warmup {settings.warmup}: give 0 or more")
    unknown = [name for name in settings.augment if name not in ("crop", "flip")]
    if unknown:
        raise KdbenchError(f"--augment {unknown[0]!r}: use crop, flip, crop,flip or none")


def _batches(data: Split, recipe: Recipe, generator: torch.Generator) -> Iterator[Batch]:
    """Epoch after epoch of ``fit``'s batches."""
    while True:
        yield from data.train_batches(recipe.batch_size, generator, recipe.augment, recipe.crop_padding)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench(pm: PluginManager, settings: BenchSettings, data_dir: Path) -> BenchResult:
    """Build the networks and the engine's step as ``fit`` does, run ``warmup`` steps, then time
    ``steps`` steps (batches drawn and augmented inside the timing, as in training)."""
    from kdbench.runner import resolve_device

    _check(settings)
    device = resolve_device(settings.device)
    options = EngineOptions(memory_format=settings.memory_format,  # type: ignore[arg-type]
                            compile=settings.compile)
    check_options(options, settings.precision, device)
    teacher_ref = _resolved(pm, settings.teacher, "--teacher", "models")
    student_ref = _resolved(pm, settings.student, "--student", "models")
    method_ref = _resolved(pm, settings.method, "--method", "methods")
    data = _data(pm, settings, data_dir)
    torch.manual_seed(settings.seed)
    teacher = build_model(pm, teacher_ref, data)
    distiller = build_distiller(pm, method_ref, build_model(pm, student_ref, data), teacher)
    data = data.to(device)
    distiller.to(device)
    distiller.prepare(data)
    distiller.to(device)
    recipe = Recipe.model_validate({"epochs": 1, "batch_size": settings.batch_size, "lr": 0.01,
                                    "augment": settings.augment, "precision": settings.precision},
                                   strict=False)
    table_s = _serve_teacher_logits(distiller, recipe, data, device)
    bank_s = _serve_view_bank(distiller, recipe, data, device) if settings.view_bank else None
    step = TrainStep(distiller, make_optimizer(distiller.trainable_parameters(), recipe),
                     settings.precision, device, options)
    batches = _batches(data, recipe, torch.Generator().manual_seed(settings.seed))
    forwards = TeacherForwards(distiller.teacher, settings.compile is not None)
    distiller.train()
    with step.layout():
        began = time.perf_counter()
        for _ in range(settings.warmup):
            step(next(batches), 0)
        _synchronize(device)
        warmup_s, times = time.perf_counter() - began, []
        forwards.take()
        for _ in range(settings.steps):
            began = time.perf_counter()
            step(next(batches), 0)
            _synchronize(device)
            times.append(time.perf_counter() - began)
    images, teacher_images = settings.steps * settings.batch_size, forwards.take()
    forwards.close()
    return BenchResult(settings, images / sum(times), teacher_images / images, warmup_s, sum(times),
                       statistics.median(times), str(device), describe(device), table_s, bank_s,
                       view_count(recipe.augment, recipe.crop_padding) if bank_s is not None else None,
                       len(data))


def _data(pm: PluginManager, settings: BenchSettings, data_dir: Path) -> Split:
    """The images timed: the data set's training split or random ones of its shape, the first
    ``settings.examples`` of them; fewer than a batch is one line."""
    if settings.synthetic:
        data: Split = synthetic(settings.dataset, settings.examples or settings.batch_size * 4, settings.seed)
    else:
        data = training_split(pm, settings.dataset, data_dir)
        if settings.examples is not None:
            if not isinstance(data, ImageTensors):
                raise KdbenchError(f"--examples: {settings.dataset} is streamed from disk; time all "
                                   "of it (leave out --examples) or use --synthetic")
            data = data.subset(torch.arange(min(settings.examples, len(data))))
    if len(data) < settings.batch_size:
        source = f"--examples {settings.examples} gives" if settings.examples else f"{settings.dataset} has"
        raise KdbenchError(f"--batch-size {settings.batch_size}: {source} only {len(data)} training images")
    return data


def _serve_view_bank(distiller: Distiller[Any], recipe: Recipe, data: Split,
                     device: torch.device) -> float:
    """Serve the teacher from a view bank of ``data`` made as ``kdbench run --view-bank on``
    makes it (once per teacher and sweep); the seconds it took. Where none can serve, one line."""
    problem = why_not_bank(distiller, recipe, data)
    if problem is not None:
        raise KdbenchError(f"--view-bank: {problem}")
    assert isinstance(data, ImageTensors) and distiller.teacher is not None  # why_not_bank says so
    began = time.perf_counter()
    bank = make_bank(distiller.teacher, data, recipe, recipe.eval_batch_size, device)
    distiller.teacher_source = ViewBank(bank.to(device))
    _synchronize(device)
    return time.perf_counter() - began


def _serve_teacher_logits(distiller: Distiller[Any], recipe: Recipe, data: Split,
                          device: torch.device) -> float | None:
    """Where ``kdbench run`` would serve the teacher's logits from a table (a logits method on
    unaugmented data), make that table as it does and serve them; the seconds it took, else None."""
    if not can_serve(distiller, recipe):
        return None
    began = time.perf_counter()
    logits = predict(distiller.teacher, data, recipe.eval_batch_size, device)  # type: ignore[arg-type]
    distiller.teacher_source = LogitsTable(logits.to(device))
    _synchronize(device)
    return time.perf_counter() - began
