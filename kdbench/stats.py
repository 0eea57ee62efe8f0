"""Intervals and tests that boards draw conclusions from: Student-t intervals over seeds (paired
where two cells ran the same seeds, Welch's otherwise), per-seed slopes, and Holm's adjustment.

Every interval is 95%, two-sided. A count of one, or values without any spread, give an estimate
without an interval or p-value, so nothing can be claimed from them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats as scipy_stats

LEVEL = 0.95
PAIRED, WELCH, SLOPE = "paired", "Welch", "per-seed slope"


@dataclass(frozen=True)
class Estimate:
    """A difference or slope with its 95% interval and two-sided p-value (NaN without enough data),
    the number of seeds or runs behind it and how it was computed (``paired``, ``Welch``...)."""

    value: float
    low: float
    high: float
    p: float
    n: int
    method: str

    @property
    def separated(self) -> bool:
        """Whether the interval excludes 0 (never without an interval)."""
        return self.low > 0 or self.high < 0


def _t_estimate(value: float, se: float, df: float, n: int, method: str) -> Estimate:
    """The t interval and p-value of ``value`` with standard error ``se`` on ``df`` degrees of
    freedom. No spread at all (``se`` 0, as when two seeds' accuracies differ by the same count of
    test images) says nothing about the noise, so it gives no interval rather than a point."""
    if se == 0:
        return Estimate(value, math.nan, math.nan, math.nan, n, method)
    half = scipy_stats.t.ppf(0.5 + LEVEL / 2, df) * se
    p = 2 * scipy_stats.t.sf(abs(value) / se, df)
    return Estimate(value, value - half, value + half, float(p), n, method)


def one_sample(values: Sequence[float], method: str) -> Estimate | None:
    """The mean of ``values`` (per-seed differences or slopes) with its t interval against 0."""
    if not values:
        return None
    mean = statistics.fmean(values)
    if len(values) == 1:
        return Estimate(mean, math.nan, math.nan, math.nan, 1, method)
    se = statistics.stdev(values) / math.sqrt(len(values))
    return _t_estimate(mean, se, len(values) - 1, len(values), method)


def welch(a: Sequence[float], b: Sequence[float]) -> Estimate | None:
    """``mean(a) - mean(b)`` with Welch's interval (unequal variances, Welch-Satterthwaite degrees
    of freedom); ``n`` is the smaller count. Without two values on each side, no interval."""
    if not a or not b:
        return None
    value = statistics.fmean(a) - statistics.fmean(b)
    if len(a) < 2 or len(b) < 2:
        return Estimate(value, math.nan, math.nan, math.nan, min(len(a), len(b)), WELCH)
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if se else math.nan
    return _t_estimate(value, se, df, min(len(a), len(b)), WELCH)


def difference(a: dict[int, float], b: dict[int, float]) -> Estimate | None:
    """``a - b`` for values by seed: paired by seed when both ran the same seeds, else Welch."""
    if a and set(a) == set(b):
        return one_sample([a[seed] - b[seed] for seed in sorted(a)], PAIRED)
    return welch(list(a.values()), list(b.values()))


def slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """The least-squares slope of ``ys`` on ``xs``; None when the ``xs`` do not vary."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def holm(ps: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given. NaN p-values (no test) stay NaN and
    do not count among the hypotheses."""
    tested = sorted((p, i) for i, p in enumerate(ps) if not math.isnan(p))
    adjusted = [math.nan] * len(ps)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * p))
        adjusted[i] = running
    return adjusted
