"""The contrasts a track's page reports, their tables and the paragraph that reads them.

A ``difference`` compares each cell that ``a`` selects with the cell that ``b`` makes of it (``b``'s
fields replace ``a``'s; a teacher is matched only where both cells have one), paired by seed where
both ran the same seeds, else by Welch's interval. A ``trend`` is the least-squares slope of the
metric against log10 teacher parameters (or teacher accuracy) fitted once per seed over the
method's teachers, with a t interval over the seeds' slopes (seeds whose ladder is incomplete are
left out). Holm's adjustment runs over every comparison of the page's budget; the tables show raw
95% intervals, raw and Holm-adjusted p-values, and the paragraph claims only what survives Holm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from tabulate import tabulate

from kdbench.aggregate import BASELINE_METHOD, Entry
from kdbench.specs import CellSelector, Contrast, TrackSpec
from kdbench.stats import SLOPE, Estimate, difference, holm, one_sample, slope

ALPHA = 0.05
FIELDS = ("method", "teacher", "student")
UNITS = {"teacher_params": "per 10x teacher parameters", "teacher_acc": "per teacher accuracy point"}


@dataclass(frozen=True)
class Comparison:
    """One row of a contrast table: what is compared, its estimate and its Holm-adjusted p."""

    contrast: Contrast
    a: str
    b: str
    estimate: Estimate | None
    p_holm: float = math.nan

    @property
    def sign(self) -> int:
        """+1 or -1 where the page may claim a difference (its interval excludes 0 and its Holm p,
        as printed to 3 decimals, is under 0.05), else 0."""
        if self.estimate is None or not self.estimate.separated or not round(self.p_holm, 3) < ALPHA:
            return 0
        return 1 if self.estimate.value > 0 else -1

    @property
    def shown(self) -> bool:
        return self.sign != 0

    @property
    def unit(self) -> str:
        return UNITS.get(self.contrast.over or "", "")


def default_contrasts(rows: list[Entry]) -> tuple[Contrast, ...]:
    """Each method against the cross-entropy student, as boards showed before tracks declared any."""
    base = next((row.method for row in rows if row.method_name == BASELINE_METHOD), None)
    if base is None:
        return ()
    methods = dict.fromkeys(row.method for row in rows if row.method != base)
    return tuple(Contrast.model_construct(
        name=f"{method} vs {base}", kind="difference", metric="test.student_acc",
        a=CellSelector.model_construct(method=method), b=CellSelector.model_construct(method=base))
        for method in methods)


def _matches(row: Entry, selector: CellSelector) -> bool:
    return all(getattr(selector, key) in (None, getattr(row, key)) for key in FIELDS)


def _partner(a: Entry, b: CellSelector, row: Entry) -> bool:
    """Whether ``row`` is the cell that ``b`` makes of ``a``."""
    if row is a or not _matches(row, b):
        return False
    teachers = b.teacher is not None or None in (a.teacher, row.teacher) or a.teacher == row.teacher
    return teachers and all(getattr(b, key) is not None or getattr(a, key) == getattr(row, key)
                            for key in ("method", "student"))


def _differences(contrast: Contrast, rows: list[Entry]) -> list[Comparison]:
    split, metric = contrast.metric.split(".", 1)  # a probe's value: test.<label>.<value>
    first, second = contrast.a, contrast.b
    if first is None or second is None:  # not a difference (the spec's validation refuses it)
        return []
    return [Comparison(contrast, a.name, b.name, difference(a.values(split, metric), b.values(split, metric)))
            for a in rows if _matches(a, first) for b in rows if _partner(a, second, b)]


def _x(row: Entry, seed: int, over: str) -> float | None:
    """A teacher's position on the trend's axis: log10 of its parameters, or its test accuracy."""
    if over == "teacher_params":
        return math.log10(row.teacher_params) if row.teacher_params else None
    return row.values("test", "teacher_acc").get(seed)


def _trends(contrast: Contrast, rows: list[Entry]) -> list[Comparison]:
    split, metric = contrast.metric.split(".", 1)  # a probe's value: test.<label>.<value>
    over = contrast.over
    if over is None:  # not a trend (the spec's validation refuses it)
        return []
    students = [contrast.student] if contrast.student else list(dict.fromkeys(row.student for row in rows))
    found = []
    for student in students:
        ladder = [row for row in rows if row.method == contrast.method and row.student == student
                  and row.teacher is not None and row.teacher in (contrast.teachers or (row.teacher,))]
        if len(ladder) < 2:
            continue
        values = [row.values(split, metric) for row in ladder]
        slopes = []
        for seed in sorted(set.intersection(*(set(v) for v in values))):
            xs = [_x(row, seed, over) for row in ladder]
            points = [x for x in xs if x is not None]
            fitted = slope(points, [v[seed] for v in values]) if len(points) == len(xs) else None
            if fitted is not None:
                slopes.append(fitted)
        found.append(Comparison(contrast, f"{contrast.method} → {student}",
                                ", ".join(str(row.teacher) for row in ladder), one_sample(slopes, SLOPE)))
    return found


def compare(contrasts: tuple[Contrast, ...], rows: list[Entry]) -> list[Comparison]:
    """Every comparison of ``contrasts`` on ``rows``, with Holm's adjustment across all of them."""
    found = [comparison for contrast in contrasts
             for comparison in (_differences if contrast.kind == "difference" else _trends)(contrast, rows)]
    adjusted = holm([c.estimate.p if c.estimate else math.nan for c in found])
    return [replace(c, p_holm=p) for c, p in zip(found, adjusted, strict=True)]


def signed(value: float, digits: int) -> str:
    return f"{value:+.{digits}f}"


def interval(estimate: Estimate | None, digits: int = 2) -> str:
    """``+0.31 [-0.22, +0.84]``; the value and why it has no interval (n = 1, or no spread)."""
    if estimate is None:
        return "-"
    if math.isnan(estimate.low):
        why = "n = 1" if estimate.n == 1 else "zero spread"
        return f"{signed(estimate.value, digits)} (no interval: {why})"
    return (f"{signed(estimate.value, digits)} [{signed(estimate.low, digits)}, "
            f"{signed(estimate.high, digits)}]")


def p_value(p: float) -> str:
    return "-" if math.isnan(p) else "<0.001" if p < 0.001 else f"{p:.3f}"


def _digits(contrast: Contrast) -> int:
    return 3 if contrast.metric.split(".")[1] in {"kl", "student_nll", "teacher_nll"} else 2


def _numbers(c: Comparison) -> list[object]:
    """The estimate with its interval, how it was made (a trend: its unit), n and raw p."""
    e = c.estimate
    if e is None:
        return ["-", c.unit or "-", 0, "-"]
    return [interval(e, _digits(c.contrast)), c.unit or e.method, e.n, p_value(e.p)]


def tables(comparisons: list[Comparison]) -> str:
    """The differences table and the trends table (each only when it has rows)."""
    parts = []
    differences = [c for c in comparisons if c.contrast.kind == "difference"]
    trends = [c for c in comparisons if c.contrast.kind == "trend"]
    if differences:
        table = [[c.contrast.name, c.contrast.metric, c.a, c.b, *_numbers(c), p_value(c.p_holm)]
                 for c in differences]
        parts.append(tabulate(table, headers=["contrast", "metric", "a", "b", "a − b (95% CI)", "interval",
                                              "n", "p", "p (Holm)"], tablefmt="github",
                              disable_numparse=True))
    if trends:
        table = [[c.contrast.name, c.contrast.metric, c.a, c.b, *_numbers(c), p_value(c.p_holm)]
                 for c in trends]
        parts.append(tabulate(table, headers=["contrast", "metric", "method → student", "teachers",
                                              "slope (95% CI)", "unit", "seeds", "p", "p (Holm)"],
                              tablefmt="github", disable_numparse=True))
    return "\n\n".join(parts)


def _claim(c: Comparison) -> str:
    """What a comparison that survives Holm shows, with its interval and adjusted p."""
    digits = _digits(c.contrast)
    where = f"{interval(c.estimate, digits)} (Holm p {p_value(c.p_holm)})"
    if c.contrast.kind == "trend":
        return f"for {c.a} it {'rises' if c.sign > 0 else 'falls'} over {c.b}: {where}, {c.unit}"
    return f"{c.a} is {'higher' if c.sign > 0 else 'lower'} than {c.b}: {where}"


def _verdict(contrast: Contrast, found: list[Comparison]) -> str:
    """Whether kdbench's comparisons agree with the sign the paper found."""
    sign = 1 if contrast.expected == "positive" else -1
    agree = sum(c.sign == sign for c in found)
    contradict = sum(c.sign == -sign for c in found)
    missing = len(found) - agree - contradict
    counts = [f"agrees in {agree}", f"does not reproduce it in {missing} (no difference shown)",
              f"contradicts it in {contradict}"]
    return (f" {contrast.source} found it {contrast.expected}: of {len(found)} comparison(s), "
            f"kdbench {', '.join(counts)}.")


def sentence(contrast: Contrast, found: list[Comparison]) -> str:
    """One sentence on one contrast: the comparisons that exclude 0 after Holm, how many do not,
    and, where the track states the paper's finding, whether kdbench reproduces it."""
    head = f"**{contrast.name}** ({contrast.metric}): "
    if not found:
        return head + "no finished runs of its cells yet."
    claims = [_claim(c) for c in found if c.shown]
    rest = len(found) - len(claims)
    text = head + "; ".join(claims + ([f"{rest} of {len(found)} comparison(s) show no difference "
                                        "(interval spans 0 after Holm, or no interval)"] if rest else []))
    return text + "." + (_verdict(contrast, found) if contrast.expected else "")


def tested(comparisons: list[Comparison]) -> int:
    """How many comparisons have a p-value (Holm's adjustment counts these)."""
    return sum(c.estimate is not None and not math.isnan(c.estimate.p) for c in comparisons)


def shows(contrasts: tuple[Contrast, ...], comparisons: list[Comparison]) -> str:
    """The "what this track shows" paragraph: a sentence per contrast, generated, never written."""
    return " ".join(sentence(contrast, [c for c in comparisons if c.contrast is contrast])
                    for contrast in contrasts)


def _compares(contrast: Contrast) -> str:
    """``method eskd minus method kd``, or ``kd over t1, t2, per 10x teacher parameters``."""
    if contrast.kind == "difference":
        sides = [", ".join(f"{key} {getattr(side, key)}" for key in FIELDS if getattr(side, key, None))
                 for side in (contrast.a, contrast.b)]
        return " minus ".join(sides)
    teachers = ", ".join(contrast.teachers) if contrast.teachers else "its teachers"
    return f"{contrast.method} over {teachers}, {UNITS.get(contrast.over or '', '')}"


def declared(track: TrackSpec) -> str:
    """The contrasts a track declares, for its protocol: what each compares and what the paper found."""
    table = [[c.name, c.kind, c.metric, _compares(c), f"{c.expected} ({c.source})" if c.expected else "-"]
             for c in track.contrasts]
    return tabulate(table, headers=["contrast", "kind", "metric", "compares", "the paper found"],
                    tablefmt="github") + "\n"


def contrast_section(rows: list[Entry], track: TrackSpec | None, budget: str) -> list[str]:
    """The contrast tables and the generated "what this track shows" paragraph of one budget."""
    declared = track.contrasts if track is not None and track.contrasts else ()
    contrasts = declared or default_contrasts(rows)
    if not contrasts:
        return []
    comparisons = compare(contrasts, rows)
    origin = "declared by the track" if declared else "each method against ce (the track declares none)"
    parts = ["### Contrasts\n",
             f"Contrasts {origin}. 95% intervals over seeds: a difference is paired by seed where both "
             "cells ran the same seeds, else Welch's; a trend is the least-squares slope against log10 "
             "teacher parameters (or teacher accuracy) fitted per seed, with a t interval over the seeds' "
             f"slopes. p (Holm) adjusts for the {tested(comparisons)} "
             "comparisons of this budget; intervals are unadjusted.\n"]
    if comparisons:
        parts.append(tables(comparisons) + "\n")
    parts.append("### What this track shows\n")
    if budget == "smoke":
        parts.append("Nothing: the smoke budget checks the pipeline.\n")
    else:
        parts.append("Generated from the contrasts: a difference is claimed only where its interval "
                     "excludes 0 and its Holm-adjusted p is under 0.05. " + shows(contrasts, comparisons)
                     + "\n")
    return parts
