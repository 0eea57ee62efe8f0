"""Leaderboard pictures (matplotlib, PNG): the capacity curve and fidelity against accuracy.

Figures are drawn on an Agg canvas without pyplot's global state, and saved without a software or
date stamp, so the same results give the same bytes.
"""

from __future__ import annotations

import io
from collections import defaultdict

from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from kdbench.aggregate import Entry, Stat, baseline_of


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    return buffer.getvalue()


def _error(stat: Stat) -> float:
    """Error bars are one standard deviation over seeds (a 95% t-interval from two or three seeds
    is several times wider than the spread it describes)."""
    return stat.std


def _test(row: Entry, metric: str) -> Stat:
    """The test ``metric`` of a row drawn on a plot; each plotted row has it."""
    stat = row.stat("test", metric)
    if stat is None:
        raise ValueError(f"no test {metric} for {row.method} ({row.teacher} -> {row.student})")
    return stat


def series_name(row: Entry) -> str:
    early = row.runs[0].spec.teacher is not None and row.runs[0].spec.teacher.checkpoint_epoch
    return f"{row.method}, early-stopped teacher" if early else row.method


def capacity_plot(rows: list[Entry], title: str) -> bytes | None:
    """Student test accuracy and test KD error against teacher parameters, one line per method
    and student, with ± 1 std over seeds; the CE student as a dashed line. None without a ladder."""
    taught = [row for row in rows if row.teacher is not None and row.teacher_params]
    if len({row.teacher_params for row in taught}) < 2:
        return None
    figure = Figure(figsize=(10, 4.2))
    accuracy_axis, error_axis = figure.subplots(1, 2)
    series: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for row in taught:
        series[(row.student, series_name(row))].append(row)
    for (student, name), members in sorted(series.items()):
        members.sort(key=lambda row: row.teacher_params or 0)
        x = [row.teacher_params for row in members]
        for axis, metric in ((accuracy_axis, "student_acc"), (error_axis, "kd_error")):
            stats = [_test(row, metric) for row in members]
            axis.errorbar(x, [s.mean for s in stats], yerr=[_error(s) for s in stats], marker="o",
                          capsize=3, label=f"{name} → {student}")
    for student in sorted({row.student for row in taught}):
        base = baseline_of(next(row for row in taught if row.student == student), rows)
        if base is not None:
            accuracy_axis.axhline(_test(base, "student_acc").mean, linestyle="--",
                                  color="grey", label=f"ce (no teacher) → {student}")
    for axis, ylabel in ((accuracy_axis, "student test accuracy (%)"),
                         (error_axis, "test KD error (%) = 100 − agreement")):
        axis.set_xscale("log")
        axis.set_xlabel("teacher parameters")
        axis.set_ylabel(ylabel)
        axis.grid(True, alpha=0.3)
    accuracy_axis.legend(fontsize=7)
    figure.suptitle(f"{title}: mean ± 1 std over seeds", fontsize=10)
    figure.tight_layout()
    return _png(figure)


def fidelity_plot(rows: list[Entry], title: str) -> bytes | None:
    """Test agreement against student test accuracy, one point per (teacher, student, method)."""
    taught = [row for row in rows if row.teacher is not None
              and row.stat("test", "student_acc") is not None]
    if not taught:
        return None
    figure = Figure(figsize=(10, 4.5))
    axis = figure.subplots()
    tab20 = colormaps["tab20"]
    colours = [tab20(i) for i in range(tab20.N)]  # its 20 colours
    for i, row in enumerate(taught):
        accuracy, agreement = _test(row, "student_acc"), _test(row, "agreement")
        axis.errorbar(accuracy.mean, agreement.mean, xerr=_error(accuracy), yerr=_error(agreement),
                      marker="o", capsize=3, color=colours[i % len(colours)],
                      label=f"{series_name(row)}: {row.teacher} → {row.student}")
    axis.set_xlabel("student test accuracy (%)")
    axis.set_ylabel("test top-1 agreement with teacher (%)")
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    figure.suptitle(f"{title}: fidelity against accuracy, mean ± 1 std over seeds", fontsize=10)
    figure.tight_layout()
    return _png(figure)
