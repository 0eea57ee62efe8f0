"""Which probes a track runs (resolved against the installed plugins) and, for each run, the
networks they compare it with: its teacher and its reference student, trained without a teacher.

A run with a teacher is compared with the track's ``ce`` run of the same student and seed. A run
without one (``ce`` itself, or any teacher-free method) is probed against the teacher its student
is paired with (of the same seed); the ``ce`` run's reference is the ``ce`` run of the next seed
of the budget (Ojha et al.'s sanity check: two independent students, about 50% on Grad-CAM).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from kdbench.plugins import PluginManager
from kdbench.resolve import Resolver
from kdbench.specfile import where
from kdbench.specs import RunSpec, Strict, TeacherSpec, TrackSpec, probe_metric
from kdbench.versions import code_version

BASELINE = "ce"


class ProbeSpec(Strict):
    """One probe of a track, resolved: its label, name, every parameter, splits and code version."""

    label: str
    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    splits: tuple[str, ...]
    code: str


def resolve_probes(track: TrackSpec, pm: PluginManager, check: Resolver,
                   models: dict[str, dict[str, Any]]) -> list[ProbeSpec]:
    """The track's probes with their parameters validated and filled in; every problem (an unknown
    probe or value, a bad parameter, a missing feature tap) is added to ``check``."""
    resolved: list[ProbeSpec] = []
    units: dict[str, dict[str, str]] = {}
    for i, probe in enumerate(track.probes):
        label = track.probe_label(probe)
        if "." in label:
            check.problems.append(f"{where(('probes', i, 'name'), check.root)}: probe {label!r} has "
                                  "a dot in its name; give it a label without one")
        ref = check.ref(pm.probes, probe, ("probes", i))
        if ref is None:
            continue
        check.taps(pm, ref, ("probes", i), models)
        info = pm.probes.get(probe.name)
        units[label] = dict(info.units)
        resolved.append(ProbeSpec(label=label, name=probe.name, params=ref.params,
                                  splits=probe.splits, code=code_version(pm, "probes", probe.name)))
    named: list[tuple[tuple[Any, ...], str, float | None]] = [
        (("contrasts", i, "metric"), c.metric, None) for i, c in enumerate(track.contrasts)]
    named += [(("references", i, "metrics", key), key, value) for i, r in enumerate(track.references)
              for key, value in r.metrics.items()]
    splits = {spec.label: spec.splits for spec in resolved}
    for loc, key, value in named:
        if not probe_metric(key) or key.split(".")[1] not in units:
            continue
        split, label, name = key.split(".")
        if name not in units[label]:
            check.problems.append(f"{where(loc, check.root)}: probe {label!r} has no value {name!r} "
                                  f"(it has: {', '.join(units[label])})")
        elif split not in splits[label]:
            check.problems.append(f"{where(loc, check.root)}: probe {label!r} runs on "
                                  f"{', '.join(splits[label])}, not {split}")
        elif value is not None and units[label][name] == "%" and not 0 <= value <= 100:
            check.problems.append(f"{where(loc, check.root)}: {value:g} is not a percentage in [0, 100]")
    return resolved


@dataclass(frozen=True)
class Partners:
    """What a run's probes compare it with."""

    teacher: TeacherSpec
    teacher_label: str
    reference: RunSpec | None


def partners(runs: list[RunSpec]) -> dict[str, Partners]:
    """Run id -> its partners, for the runs of one budget (of the seeds they ran) whose teacher
    is known; runs without one are left out."""
    teachers: dict[tuple[int, str], tuple[TeacherSpec, str]] = {}
    baselines: dict[tuple[int, str], RunSpec] = {}
    for spec in runs:
        key = (spec.seed, spec.student_label)
        if spec.teacher is not None and spec.teacher_label is not None:
            teachers.setdefault(key, (spec.teacher, spec.teacher_label))
        if spec.method.name == BASELINE:
            baselines[key] = spec
    seeds = sorted({spec.seed for spec in runs})
    found = {}
    for spec in runs:
        key = (spec.seed, spec.student_label)
        teacher = (spec.teacher, str(spec.teacher_label)) if spec.teacher is not None else teachers.get(key)
        if teacher is None:
            continue
        reference = baselines.get(key)
        if spec.method.name == BASELINE:
            following = seeds[(seeds.index(spec.seed) + 1) % len(seeds)]
            reference = baselines.get((following, spec.student_label)) if following != spec.seed else None
        found[spec.run_id] = Partners(teacher[0], teacher[1], reference)
    return found

