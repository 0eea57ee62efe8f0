"""What a method costs beside Hinton KD, for the boards: wall time per epoch relative to KD on the
same student, teacher and seed; the trainable parameters of the method's own modules (a hint
regressor, CRD's embeddings); and the teacher forwards it made per training image.

Every number comes from result files, which are not trusted: a history entry whose ``seconds``,
``images`` or ``teacher_images`` is not a finite non-negative number is left out.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

import torch
from tabulate import tabulate
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from kdbench.results import RunResult

KD = "kd"


class TeacherForwards:
    """Counts the images the teacher module is run on, through a forward hook: what a run actually
    did, whether its teacher ran live on every batch or its logits came from a cache. Under
    ``torch.compile`` (``compiled``) the hook runs outside the graph, so that it counts at run time
    instead of being traced into a constant (which would also recompile every step)."""

    def __init__(self, teacher: nn.Module | None, compiled: bool = False):
        self.images = 0
        self._handle: RemovableHandle | None = None
        if teacher is not None:
            hook = torch.compiler.disable(self._count) if compiled else self._count
            self._handle = teacher.register_forward_hook(hook)

    def _count(self, module: nn.Module, args: Any, output: Any) -> None:
        self.images += len(output) if isinstance(output, Tensor) and output.dim() else 0

    def take(self) -> int:
        """The images counted since the last ``take``."""
        images, self.images = self.images, 0
        return images

    def close(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


def method_parameters(distiller: nn.Module) -> int:
    """Trainable parameters of the method's own modules: neither the student's nor the teacher's."""
    return sum(p.numel() for name, p in distiller.named_parameters()
               if not name.startswith(("student.", "teacher.")))


def _number(entry: Any, key: str) -> float | None:
    value = entry.get(key) if isinstance(entry, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def seconds_per_epoch(result: RunResult) -> float | None:
    """The median wall time of the run's epochs (robust to a first epoch's warm-up)."""
    seconds = [s for s in (_number(entry, "seconds") for entry in result.history) if s is not None]
    return statistics.median(seconds) if seconds else None


def teacher_forwards_per_image(result: RunResult) -> float | None:
    """Teacher forwards over training images seen, over the epochs that recorded both; None
    when none did (results made before kdbench counted them)."""
    pairs = [(_number(entry, "teacher_images"), _number(entry, "images")) for entry in result.history]
    counted = [(forwards, images) for forwards, images in pairs if forwards is not None and images]
    if not counted:
        return None
    return sum(f for f, _ in counted) / sum(i for _, i in counted if i is not None)


@dataclass(frozen=True)
class MethodCost:
    """One method's cost over the runs of a budget."""

    method: str
    seconds: float | None  # median seconds per epoch, mean over runs
    relative_to_kd: float | None  # geometric mean over runs of the ratio to KD's same cell
    extra_parameters: tuple[int, int] | None  # smallest and largest over runs
    teacher_forwards: float | None  # per training image, mean over runs


def _kd_seconds(results: list[RunResult]) -> dict[tuple[str | None, str, int], list[float]]:
    """Seconds per epoch of the KD runs by (teacher, student, seed)."""
    found: dict[tuple[str | None, str, int], list[float]] = {}
    for result in results:
        seconds = seconds_per_epoch(result)
        if result.ok and result.spec.method_label == KD and seconds:
            found.setdefault((result.spec.teacher_label, result.spec.student_label, result.spec.seed),
                             []).append(seconds)
    return found


def _relative(result: RunResult, seconds: float, kd: dict[tuple[str | None, str, int], list[float]]
              ) -> float | None:
    """``seconds`` over KD's on the same pair and seed; a run without a teacher (CE) against the
    KD runs of its student and seed, whatever their teacher."""
    spec = result.spec
    same = [s for (teacher, student, seed), found in kd.items() for s in found
            if student == spec.student_label and seed == spec.seed
            and (spec.teacher_label is None or teacher == spec.teacher_label)]
    return seconds / statistics.fmean(same) if same else None


def method_costs(results: list[RunResult]) -> list[MethodCost]:
    """The cost of each method label among ``results`` (finished runs only), in first-seen order."""
    kd = _kd_seconds(results)
    by_method: dict[str, list[RunResult]] = {}
    for result in results:
        if result.ok:
            by_method.setdefault(result.spec.method_label, []).append(result)
    costs = []
    for method, runs in by_method.items():
        seconds = [(run, s) for run in runs if (s := seconds_per_epoch(run)) is not None]
        ratios = [r for run, s in seconds if (r := _relative(run, s, kd)) is not None and r > 0]
        extra = [run.method_params for run in runs if run.method_params is not None]
        forwards = [f for run in runs if (f := teacher_forwards_per_image(run)) is not None]
        costs.append(MethodCost(
            method, statistics.fmean(s for _, s in seconds) if seconds else None,
            statistics.geometric_mean(ratios) if ratios else None,
            (min(extra), max(extra)) if extra else None,
            statistics.fmean(forwards) if forwards else None))
    return costs


def _plain(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def cost_board(results: list[RunResult]) -> str:
    """The markdown cost table of one budget's results, one row per method."""
    table = [[cost.method, _plain(cost.seconds, 3), _plain(cost.relative_to_kd, 2),
              "-" if cost.extra_parameters is None else
              "–".join(dict.fromkeys(f"{n:,}" for n in cost.extra_parameters)),
              _plain(cost.teacher_forwards, 2)] for cost in method_costs(results)]
    return tabulate(table, headers=["method", "s / epoch", "× KD", "extra parameters",
                                    "teacher forwards / image"], tablefmt="github", disable_numparse=True)
