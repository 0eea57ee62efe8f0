"""Probe values on boards: checked records merged into their runs' metrics (so means, intervals
and contrasts treat them like every other metric), a table of each probe's values per cell, and
a plot of each property for the teacher, the distilled students and the independent student."""

from __future__ import annotations

import io
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from tabulate import tabulate

from kdbench.aggregate import Entry, baseline_of
from kdbench.errors import KdbenchError
from kdbench.plugins import PluginManager
from kdbench.probes.measure import track_probes
from kdbench.probes.plan import partners
from kdbench.probes.store import ProbeStore
from kdbench.results import InvalidResult, RunResult
from kdbench.specs import TrackSpec
from kdbench.stats import difference


def with_probes(root: Path, track: TrackSpec, results: list[RunResult],
                pm: PluginManager) -> tuple[list[RunResult], list[str]]:
    """``results`` with the values of their current, checked probe records among their metrics,
    and a line for each record left off (refused, or made for other probes or networks)."""
    if not track.probes:
        return results, []
    try:
        probes = track_probes(track, pm)
    except KdbenchError as error:
        return results, [f"track {track.name}: probe values left off ({error})"]
    store, problems, merged = ProbeStore(root), [], []
    by_budget: dict[str, list[RunResult]] = {}
    for result in results:
        by_budget.setdefault(result.spec.budget, []).append(result)
    for found in by_budget.values():
        table = partners([result.spec for result in found if result.ok])
        for result in found:
            partner = table.get(result.run_id)
            try:
                record = store.read(result.spec) if partner is not None else None
            except InvalidResult as error:
                problems.append(f"{error.path}: {error.reason}; left off")
                record = None
            reference = partner.reference.run_id if partner and partner.reference else None
            if record is not None and partner is not None and not record.made_with(
                    probes, partner.teacher.teacher_id, reference):
                problems.append(f"{store.path(result.spec)}: made for other probes or networks than "
                                "the track's now (`kdbench run` probes it again); left off")
                record = None
            if record is None:
                merged.append(result)
                continue
            metrics = {split: {**values, **record.values.get(split, {})}
                       for split, values in result.metrics.items()}
            merged.append(result.model_copy(update={"metrics": metrics}))
    return merged, problems


def value_names(track: TrackSpec, rows: list[Entry]) -> list[str]:
    """The ``<label>.<value>`` test metrics that some row has, in the track's probe order."""
    labels = [track.probe_label(probe) for probe in track.probes]
    present = {name for row in rows for run in row.runs for name in run.metrics.get("test", {})
               if name.split(".", 1)[0] in labels and "." in name}
    return sorted(present, key=lambda name: (labels.index(name.split(".", 1)[0]), name))


def property_board(rows: list[Entry], names: list[str]) -> str:
    """One probe's test values per cell, mean ± std over seeds, and its ``student`` value's
    difference to the ce student, paired by seed."""
    from kdbench.leaderboard import _delta, fmt

    student = next((name for name in names if name.endswith(".student")), None)
    table = []
    for row in rows:
        base = baseline_of(row, rows)
        delta = "-"
        if student is not None and base is not None and base is not row:
            delta = _delta(difference(row.values("test", student), base.values("test", student)))
        table.append([row.student, row.teacher or "-", row.method,
                      *(fmt(row.stat("test", name)) for name in names),
                      *([delta] if student else []), len(row.runs)])
    headers = ["student", "teacher", "method", *(name.split(".", 1)[1] for name in names),
               *(["student Δ vs CE (95% CI)"] if student else []), "n"]
    return tabulate(table, headers=headers, tablefmt="github", disable_numparse=True)


def property_section(rows: list[Entry], track: TrackSpec | None) -> list[str]:
    """The "Properties" part of a budget's board, a table per probe, when the track has probes."""
    if track is None or not track.probes:
        return []
    names = value_names(track, rows)
    if not names:
        return ["### Properties\n", "No probe values yet: `kdbench run` computes them once every run "
                "of a seed exists.\n"]
    parts = ["### Properties\n",
             "Probe values on the test split (Ojha et al. 2023), mean ± std over seeds. `student` is the "
             "row's student (a row without a teacher is the independent student, probed against the "
             "teacher its student is paired with) and `teacher` that teacher; `kdbench show probe NAME` "
             "says what each value means and its unit.\n"]
    for probe in track.probes:
        label = track.probe_label(probe)
        mine = [name for name in names if name.split(".", 1)[0] == label]
        if mine:
            parts += [f"**{label}** ({probe.signature()})\n", property_board(rows, mine) + "\n"]
    return parts


def property_plot(rows: list[Entry], track: TrackSpec | None, title: str) -> bytes | None:
    """For each probe with a ``student`` and a ``teacher`` value: bars of the teacher's value and
    each cell's student value (± 1 std over seeds), the independent (ce) student's among them."""
    if track is None or not track.probes:
        return None
    names = value_names(track, rows)
    labels = [name.removesuffix(".student") for name in names
              if name.endswith(".student") and name.replace(".student", ".teacher") in names]
    if not labels:
        return None
    figure = Figure(figsize=(4.2 * len(labels), 4.2))
    axes = figure.subplots(1, len(labels), squeeze=False)[0]
    for axis, label in zip(axes, labels, strict=True):
        bars = []
        taught = next((row for row in rows if row.teacher and row.stat("test", f"{label}.teacher")), None)
        if taught is not None:
            bars.append((f"teacher {taught.teacher}", taught.stat("test", f"{label}.teacher")))
        bars += [(f"{row.method}{' (independent)' if row.teacher is None else ''}",
                  row.stat("test", f"{label}.student")) for row in rows]
        shown = [(name, stat) for name, stat in bars if stat is not None]
        axis.bar(range(len(shown)), [stat.mean for _, stat in shown],
                 yerr=[stat.std for _, stat in shown], capsize=3,
                 color=["grey" if name.startswith("teacher") else "C0" for name, _ in shown])
        axis.set_xticks(range(len(shown)), [name for name, _ in shown], rotation=30, ha="right", fontsize=8)
        axis.set_title(label, fontsize=9)
        axis.grid(True, axis="y", alpha=0.3)
    figure.suptitle(f"{title}: properties, mean ± 1 std over seeds", fontsize=10)
    figure.tight_layout()
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    return buffer.getvalue()
