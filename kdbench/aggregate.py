"""Aggregation over seeds: mean, std, n and a 95% t-interval, and which variance they include.
A leaderboard row is one (teacher, student, method) across its seeds; differences between rows
are in ``kdbench.stats``."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from scipy import stats as scipy_stats

from kdbench.results import RunResult

BASELINE_METHOD = "ce"


@dataclass(frozen=True)
class Stat:
    """Mean, sample standard deviation, count and 95% confidence interval of some values."""

    mean: float
    std: float
    n: int
    low: float
    high: float


def summarize(values: list[float]) -> Stat | None:
    """Stat of ``values``; the interval is mean +- t(0.975, n-1) * std / sqrt(n) (none for n=1)."""
    if not values:
        return None
    mean = statistics.fmean(values)
    if len(values) == 1:
        return Stat(mean, 0.0, 1, math.nan, math.nan)
    std = statistics.stdev(values)
    half = scipy_stats.t.ppf(0.975, len(values) - 1) * std / math.sqrt(len(values))
    return Stat(mean, std, len(values), mean - half, mean + half)


@dataclass
class Entry:
    """The runs of one (teacher, student, method) at one budget, over seeds."""

    teacher: str | None
    student: str
    method: str
    method_name: str
    runs: list[RunResult] = field(default_factory=list)

    @property
    def name(self) -> str:
        """``method: teacher → student``, or ``method: student`` without a teacher."""
        return f"{self.method}: {self.teacher + ' → ' if self.teacher else ''}{self.student}"

    @property
    def teacher_seeds(self) -> set[int]:
        """The seeds of the teachers its runs distilled from (empty without a teacher)."""
        return {run.spec.teacher.seed for run in self.runs if run.spec.teacher is not None}

    @property
    def teacher_params(self) -> int | None:
        return self.runs[0].teacher_params

    @property
    def student_params(self) -> int | None:
        return self.runs[0].student_params

    def values(self, split: str, metric: str) -> dict[int, float]:
        """Metric by seed; missing metrics (no teacher) are left out."""
        out = {}
        for run in self.runs:
            value = run.metrics.get(split, {}).get(metric)
            if value is not None:
                out[run.spec.seed] = value
        return out

    def stat(self, split: str, metric: str) -> Stat | None:
        return summarize(list(self.values(split, metric).values()))


def entries(results: list[RunResult]) -> list[Entry]:
    """Group finished runs into leaderboard rows (failed runs are left out)."""
    groups: dict[tuple[str | None, str, str], Entry] = {}
    for result in results:
        if not result.ok:
            continue
        spec = result.spec
        key = (spec.teacher_label, spec.student_label, spec.method_label)
        entry = groups.setdefault(key, Entry(*key, method_name=spec.method.name))
        entry.runs.append(result)
    return list(groups.values())


def baseline_of(entry: Entry, rows: list[Entry]) -> Entry | None:
    """The CE-only student of the same architecture, or None."""
    return next((row for row in rows if row.method_name == BASELINE_METHOD
                 and row.student == entry.student), None)


def variance_note(rows: list[Entry]) -> str:
    """Which variance the intervals include: teacher variance where the runs of a cell distilled
    from teachers of different seeds, student seed variance alone where they shared one teacher."""
    taught = [row for row in rows if row.teacher is not None and len(row.runs) > 1]
    own = [row for row in taught if len(row.teacher_seeds) > 1]
    if not taught:
        return "Intervals include the variance over student seeds only."
    if len(own) == len(taught):
        return ("Intervals include teacher variance: each run of a cell distilled from its own teacher "
                "(teacher seeds differ), as well as the variance over student seeds.")
    if not own:
        return ("Intervals include the variance over student seeds only: the runs of each cell share "
                "one teacher, so teacher variance is not included.")
    return (f"Intervals of {', '.join(row.name for row in own)} include teacher variance (their runs "
            "have teachers of different seeds); the others include the variance over student seeds "
            "only (one teacher per cell).")
