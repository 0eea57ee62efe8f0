"""Phase two of validation and the expansion of a track into runs.

After plugins load, every method, model and dataset name is looked up and its parameters are
validated by the plugin's own ``Params`` model; the result is a list of fully resolved
``RunSpec`` objects, one per (teacher, student, method, seed) of a budget.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml
from pydantic import BaseModel, ValidationError

from kdbench.errors import KdbenchError, ParamError, SpecError
from kdbench.methods.taps import resolve_tap
from kdbench.overrides import Override
from kdbench.plugins import Catalog, PluginManager
from kdbench.specfile import load_track_file, problems_of, where
from kdbench.specs import DataRef, Recipe, Ref, RunSpec, TeacherSpec, TrackSpec, entry_recipe, patched
from kdbench.versions import code_versions

TAP_FIELDS = {"student_tap": ("student",), "teacher_tap": ("teacher",),
              "student_taps": ("student",), "teacher_taps": ("teacher",),
              "tap": ("student", "teacher"), "taps": ("student", "teacher")}
"""Method parameters that name feature taps (a name, or a list of names) of the student, of the
teacher, or of both (hint and CRD's ``student_tap``; an attention method's ``taps``)."""


def non_finite(value: Any, loc: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The paths of the NaN and infinite floats inside ``value`` (nested dicts and lists)."""
    if isinstance(value, float) and not math.isfinite(value):
        yield loc
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from non_finite(item, (*loc, key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from non_finite(item, (*loc, i))


def meta_model(pm: PluginManager, ref: Ref, members: int = 1) -> torch.nn.Module | None:
    """``ref``'s model (an ensemble of ``members`` of them, as teachers are) built on the meta
    device (shapes only, no memory, no weights) for 3-channel 224-pixel images, or None when it
    cannot be built that way."""
    from kdbench.teachers import Ensemble

    info = pm.models.get(ref.name)
    try:
        with torch.device("meta"):
            models = [info.factory(ref.name, info.Params.model_validate(ref.params), in_channels=3,
                                   image_size=224, num_classes=10) for _ in range(members)]
    except Exception:  # noqa: BLE001 - a model that needs real data is checked when it is built
        return None
    return models[0] if members == 1 else Ensemble(models)


class _Checker:
    """Collects problems with their field paths instead of stopping at the first."""

    def __init__(self, source: str, root: yaml.Node | None):
        self.source, self.root, self.problems = source, root, []
        self._meta: dict[tuple[str, int], torch.nn.Module | None] = {}

    def params(self, catalog: Catalog[Any], ref: Ref, loc: tuple[Any, ...],
               context: dict[str, Any] | None = None) -> BaseModel | None:
        try:
            info = catalog.get(ref.name)
        except KdbenchError as error:
            self.problems.append(f"{where(loc + ('name',), self.root)}: {error}")
            return None
        try:
            params = info.Params.model_validate(ref.params, context=context)
        except ValidationError as error:
            self.problems.extend(problems_of(error, self.root, loc + ("params",)))
            return None
        bad = [f"{where(loc + ('params', *path), self.root)}: must be a finite number"
               for path in non_finite(params.model_dump())]
        if bad:  # plugins whose Params allow NaN or infinity
            self.problems.extend(bad)
            return None
        try:
            if getattr(info, "check", None) is not None:
                info.check(ref.name, params)
        except ParamError as error:
            self.problems.append(f"{where(loc + ('params', error.field), self.root)}: {error}")
            return None
        except KdbenchError as error:
            self.problems.append(f"{where(loc + ('name',), self.root)}: {error}")
            return None
        return params

    def ref(self, catalog: Catalog[Any], ref: Ref, loc: tuple[Any, ...],
            context: dict[str, Any] | None = None) -> Ref | None:
        """``ref`` with its parameters validated and every default filled in."""
        params = self.params(catalog, ref, loc, context)
        return None if params is None else Ref(name=ref.name, params=params.model_dump(mode="json"))

    def data(self, catalog: Catalog[Any], ref: DataRef, loc: tuple[Any, ...]) -> DataRef | None:
        """``ref`` with its data set's parameters validated and filled in."""
        resolved = self.ref(catalog, ref, loc)
        return None if resolved is None else DataRef(name=ref.name, params=resolved.params,
                                                      subset=ref.subset, labels=ref.labels)

    def recipe(self, base: Recipe, patch: BaseModel, loc: tuple[Any, ...]) -> Recipe | None:
        try:
            return patched(base, patch)
        except ValidationError as error:
            self.problems.extend(problems_of(error, self.root, loc))
            return None

    def entry_recipe(self, track: Recipe, budgeted: Recipe, patch: BaseModel | None,
                     loc: tuple[Any, ...]) -> Recipe | None:
        """A teacher entry's recipe at a budget (``kdbench.specs.entry_recipe``); a problem is
        reported at the entry's ``recipe``, naming the budget."""
        try:
            return entry_recipe(track, budgeted, patch)
        except ValidationError as error:
            self.problems.extend(problems_of(error, self.root, loc))
            return None

    def taps(self, pm: PluginManager, method: Ref, loc: tuple[Any, ...],
             models: dict[str, dict[str, tuple[Ref | None, int]]]) -> None:
        """Every feature tap that ``method`` names exists in the students and teachers it meets
        (``models``: "student" and "teacher" to {label: (model, members)}), on meta-device builds."""
        for field, roles in TAP_FIELDS.items():
            value = method.params.get(field)
            taps = [value] if isinstance(value, str) else value if isinstance(value, list) else []
            for role in roles:
                for label, (ref, members) in models[role].items():
                    for tap in (tap for tap in taps if isinstance(tap, str) and ref is not None):
                        self._tap(pm, tap, ref, members, loc + ("params", field), f"{role} {label}")

    def _tap(self, pm: PluginManager, tap: str, ref: Ref, members: int, loc: tuple[Any, ...],
             who: str) -> None:
        """Report ``tap`` at ``loc`` when the model of ``ref`` (a meta-device build) lacks it."""
        key = (ref.model_dump_json(), members)
        if key not in self._meta:
            self._meta[key] = meta_model(pm, ref, members)
        model = self._meta[key]
        if model is None:
            return
        try:
            resolve_tap(model, tap)
        except KdbenchError as error:
            self.problems.append(f"{where(loc, self.root)}: {who} ({ref.name}): {error}")

    def raise_if_any(self) -> None:
        if self.problems:
            raise SpecError(self.source, self.problems)


def expand(track: TrackSpec, budget: str, pm: PluginManager, seeds: tuple[int, ...] | None = None,
           source: str | None = None, root: yaml.Node | None = None) -> list[RunSpec]:
    """All runs of ``track`` at ``budget``; raises ``SpecError`` listing every problem found."""
    check = _Checker(source or f"track {track.name}", root)
    if budget not in track.budgets:
        raise KdbenchError(f"track {track.name!r} has no budget {budget!r} "
                           f"(it has: {', '.join(track.budgets)})")
    spend = track.budgets[budget]
    bloc = ("budgets", budget)
    student_recipe = check.recipe(track.student_recipe, spend.student, bloc + ("student",))
    teacher_recipe = (check.recipe(track.teacher_recipe, spend.teacher, bloc + ("teacher",))
                      if track.teacher_recipe else None)
    dataset = check.ref(pm.datasets, track.dataset, ("dataset",))
    default_data = dataset and DataRef(name=dataset.name, params=dataset.params)
    teacher_data = (check.data(pm.datasets, track.teacher_data, ("teacher_data",))
                    if track.teacher_data else default_data)
    distill_data = (check.data(pm.datasets, track.distill_data, ("distill_data",))
                    if track.distill_data else default_data)
    student_data = {track.student_label(s): check.data(pm.datasets, s.distill_data,
                                                       ("students", i, "distill_data"))
                    for i, s in enumerate(track.students) if s.distill_data}
    def model(label: str, entry_model: Ref, loc: tuple[Any, ...]) -> Ref | None:
        if label in spend.models:
            return check.ref(pm.models, spend.models[label], bloc + ("models", label))
        return check.ref(pm.models, entry_model, loc)

    teachers = {track.teacher_label(t): model(track.teacher_label(t), t.model, ("teachers", i, "model"))
                for i, t in enumerate(track.teachers)}
    students = {track.student_label(s): model(track.student_label(s), s.model, ("students", i, "model"))
                for i, s in enumerate(track.students)}
    ensembles = {track.teacher_label(t): t.ensemble for t in track.teachers}
    context = {"recipe": student_recipe} if student_recipe else None
    methods = []
    for i, ref in enumerate(track.methods):
        resolved = check.ref(pm.methods, ref, ("methods", i), context) if context else None
        info = pm.methods.get(ref.name) if ref.name in pm.methods.names() else None
        needs_teacher = info is not None and info.needs_teacher
        if needs_teacher and not track.teachers:
            check.problems.append(f"{where(('methods', i, 'name'), check.root)}: method "
                                  f"{ref.name!r} needs a teacher, but the track has none")
        if info is not None and resolved is not None and info.labels_needed(
                info.Params.model_validate(resolved.params, context=context)):
            check.problems.extend(_unlabelled(track, i, check.root))
        if resolved is not None:
            met = {"student": {label: (model, 1) for label, model in students.items()},
                   "teacher": {label: (model, ensembles[label]) for label, model in teachers.items()
                               if ref.teachers is None or label in ref.teachers} if needs_teacher else {}}
            check.taps(pm, resolved, ("methods", i), met)
        methods.append((ref, resolved, needs_teacher))
    if track.teachers and track.teacher_data and not track.teacher_data.labels:
        check.problems.append(f"{where(('teacher_data', 'labels'), check.root)}: teachers train on "
                              "labels; with labels: false they would learn nothing")
    recipes = {track.teacher_label(t): check.entry_recipe(track.teacher_recipe, teacher_recipe, t.recipe,
                                                          ("teachers", i, "recipe"))
               for i, t in enumerate(track.teachers) if track.teacher_recipe and teacher_recipe}
    checkpoints: dict[str, int] = {}
    for entry in track.teachers:
        own = recipes.get(track.teacher_label(entry))
        if entry.snapshot_fraction and own is not None:
            checkpoints[track.teacher_label(entry)] = max(1, round(entry.snapshot_fraction * own.epochs))
    check.raise_if_any()

    runs: list[RunSpec] = []
    for seed in seeds or spend.seeds or track.seeds:
        for ref, method, needs_teacher in methods:
            pairs = [(t, s) for t, s in track.pairings()
                     if ref.teachers is None or track.teacher_label(t) in ref.teachers]
            if not needs_teacher:
                pairs = [(None, s) for s in track.students]
            for teacher_entry, student_entry in pairs:
                teacher = None
                if teacher_entry is not None:
                    name = track.teacher_label(teacher_entry)
                    teacher = TeacherSpec(
                        model=teachers[name], dataset=teacher_data, recipe=recipes[name],
                        train_limit=spend.train_limit, ensemble=teacher_entry.ensemble,
                        checkpoint_epoch=checkpoints.get(name), seed=track.teacher_seed_for(seed),
                        protocol_version=track.protocol_version,
                        code=code_versions(pm, model=("models", teachers[name]),
                                           data=("datasets", teacher_data)))
                student = students[track.student_label(student_entry)]
                data = student_data.get(track.student_label(student_entry), distill_data)
                runs.append(RunSpec(
                    track=track.name, budget=budget, dataset=dataset,
                    distill_data=data,
                    train_limit=spend.train_limit, test_limit=spend.test_limit,
                    teacher=teacher,
                    teacher_label=track.teacher_label(teacher_entry) if teacher_entry else None,
                    student=student, student_label=track.student_label(student_entry),
                    method=method, method_label=ref.label(), recipe=student_recipe, seed=seed,
                    protocol_version=track.protocol_version,
                    code=code_versions(pm, method=("methods", method), student=("models", student),
                                       dataset=("datasets", dataset), data=("datasets", data))))
    return runs


def _unlabelled(track: TrackSpec, method: int, root: yaml.Node | None) -> list[str]:
    """Problems for a method that trains on labels, on each distillation data without them."""
    name = track.methods[method].name
    fields = [(("students", i, "distill_data"), s.distill_data) for i, s in enumerate(track.students)
              if s.distill_data is not None]
    if any(s.distill_data is None for s in track.students) and track.distill_data is not None:
        fields.append((("distill_data",), track.distill_data))
    return [f"{where(('methods', method, 'name'), root)}: method {name!r} trains on labels, but "
            f"{where((*loc, 'labels'), root)} is false" for loc, data in fields if not data.labels]


def validate_file(path: str | Path, pm: PluginManager, overrides: Sequence[Override] = ()) -> TrackSpec:
    """Both phases for a track file with command-line ``overrides``, across all of its budgets;
    raises ``SpecError``."""
    track, root = load_track_file(path, overrides)
    found: dict[str, list[str]] = {}
    for budget in track.budgets:
        try:
            expand(track, budget, pm, source=str(path), root=root)
        except SpecError as error:
            for problem in error.problems:
                found.setdefault(problem, []).append(budget)
    if found:
        raise SpecError(str(path), [
            problem if len(budgets) == len(track.budgets) else f"{problem} (budget {', '.join(budgets)})"
            for problem, budgets in found.items()])
    return track


def track_path(name_or_path: str, pm: PluginManager) -> Path:
    """A track name from the registry, or a path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or candidate.exists():
        if not candidate.is_file():
            raise KdbenchError(f"track file not found: {candidate}")
        return candidate
    return pm.tracks.get(name_or_path).path
