"""Index headlines that do not read noise: a winner is named only when its interval over the
runner-up excludes 0 (paired by seed where both ran the same seeds, else Welch's); otherwise the
two are reported as tied, with that interval. One run (n = 1) never makes a winner. Agreement is
only comparable against the same teacher, so the most faithful student is picked per teacher."""

from __future__ import annotations

from kdbench.aggregate import Entry, Stat
from kdbench.contrasts import interval
from kdbench.stats import difference


def _value(stat: Stat) -> str:
    return f"{stat.mean:.2f}" if stat.n == 1 else f"{stat.mean:.2f} ± {stat.std:.2f}"


def headline(rows: list[Entry], metric: str) -> str:
    """The best of ``rows`` on the test ``metric`` if it separates from the runner-up, else
    ``tied: A, B (+d [lo, hi], paired)``; ties in the mean keep the rows' order."""
    scored = [(row, stat) for row in rows if (stat := row.stat("test", metric)) is not None]
    ranked = sorted(scored, key=lambda pair: -pair[1].mean)
    if not ranked:
        return "-"
    best, stat = ranked[0]
    if len(ranked) == 1:
        return f"{best.name} ({_value(stat)}; nothing to compare with)"
    runner = ranked[1][0]
    estimate = difference(best.values("test", metric), runner.values("test", metric))
    if estimate is None:
        return f"tied: {best.name}, {runner.name}"
    gap = f"{interval(estimate)}, {estimate.method}"
    if estimate.separated and estimate.value > 0:
        return f"{best.name} ({_value(stat)}; {gap} over {runner.name})"
    return f"tied: {best.name}, {runner.name} ({gap})"


def most_faithful(rows: list[Entry]) -> str:
    """``teacher: headline`` on test agreement for each teacher, in the rows' order."""
    teachers = dict.fromkeys(row.teacher for row in rows if row.teacher is not None)
    return "; ".join(f"{teacher}: {headline([r for r in rows if r.teacher == teacher], 'agreement')}"
                     for teacher in teachers) or "-"
