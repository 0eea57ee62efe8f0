"""The expansion of a track into runs: one fully resolved ``RunSpec`` per (teacher, student,
method, seed) of a budget, after phase two of validation (``kdbench.resolve``) found no problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kdbench.checkpoints import family, resolve_path
from kdbench.errors import KdbenchError
from kdbench.plugins import PluginManager
from kdbench.probes.plan import resolve_probes
from kdbench.repdistiller import RENAMES, families
from kdbench.resolve import Resolver, known, unlabelled
from kdbench.specfile import where
from kdbench.specs import (
    Checkpoint,
    DataRef,
    Recipe,
    Ref,
    RunSpec,
    StudentEntry,
    TeacherEntry,
    TeacherSpec,
    TrackSpec,
)
from kdbench.versions import code_versions


def expand(track: TrackSpec, budget: str, pm: PluginManager, seeds: tuple[int, ...] | None = None,
           source: str | None = None, root: yaml.Node | None = None) -> list[RunSpec]:
    """All runs of ``track`` at ``budget``; raises ``SpecError`` listing every problem found."""
    check = Resolver(source or f"track {track.name}", root)
    if budget not in track.budgets:
        raise KdbenchError(f"track {track.name!r} has no budget {budget!r} "
                           f"(it has: {', '.join(track.budgets)})")
    spend = track.budgets[budget]
    bloc = ("budgets", budget)
    student_recipe = check.recipe(track.student_recipe, spend.student, bloc + ("student",))
    teacher_recipe = (check.recipe(track.teacher_recipe, spend.teacher, bloc + ("teacher",))
                      if track.teacher_recipe else None)
    dataset = check.ref(pm.datasets, track.dataset, ("dataset",))
    default_data = None if dataset is None else DataRef(name=dataset.name, params=dataset.params)
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
            check.problems.extend(unlabelled(track, i, check.root))
        if resolved is not None:
            met = {"student": {label: (model, 1) for label, model in students.items()},
                   "teacher": {label: (model, ensembles[label]) for label, model in teachers.items()
                               if ref.teachers is None or label in ref.teachers} if needs_teacher else {}}
            check.taps(pm, resolved, ("methods", i), met)
        variants: dict[tuple[str | None, str], Ref | None] = {}
        for j, override in enumerate(ref.pair_params):
            loc = ("methods", i, "pair_params", j)
            variant = check.ref(pm.methods, Ref(name=ref.name, params={**ref.params, **override.params}),
                                loc, context) if context and resolved is not None else None
            if variant is not None:
                check.taps(pm, variant, loc, met)
            variants[(override.teacher, override.student)] = variant
        methods.append((ref, resolved, needs_teacher, variants))
    resolve_probes(track, pm, check, {
        "student": {label: (model, 1) for label, model in students.items()},
        "teacher": {label: (model, ensembles[label]) for label, model in teachers.items()}})
    if track.teachers and track.teacher_data and not track.teacher_data.labels:
        check.problems.append(f"{where(('teacher_data', 'labels'), check.root)}: teachers train on "
                              "labels; with labels: false they would learn nothing")
    student_recipes = {track.student_label(s): check.entry_recipe(track.student_recipe, student_recipe,
                                                                  s.recipe, ("students", i, "recipe"))
                       for i, s in enumerate(track.students) if student_recipe}
    recipes = {track.teacher_label(t): check.entry_recipe(track.teacher_recipe, teacher_recipe, t.recipe,
                                                          ("teachers", i, "recipe"))
               for i, t in enumerate(track.teachers) if track.teacher_recipe and teacher_recipe}
    loaded = {track.teacher_label(t): _checkpoint(check, t, i, teachers[track.teacher_label(t)], pm, source)
              for i, t in enumerate(track.teachers) if t.checkpoint is not None}
    checkpoints: dict[str, int] = {}
    for entry in track.teachers:
        own = recipes.get(track.teacher_label(entry))
        if entry.snapshot_fraction and own is not None:
            checkpoints[track.teacher_label(entry)] = max(1, round(entry.snapshot_fraction * own.epochs))
    check.raise_if_any()

    runs: list[RunSpec] = []
    for seed in seeds or spend.seeds or track.seeds:
        for ref, method, needs_teacher, variants in methods:
            pairs: list[tuple[TeacherEntry | None, StudentEntry]] = [
                (t, s) for t, s in track.pairings(budget)
                if ref.teachers is None or track.teacher_label(t) in ref.teachers]
            if not needs_teacher:
                kept = {track.student_label(s) for _, s in track.pairings(budget)}
                pairs = [(None, s) for s in track.students
                         if spend.pairs is None or track.student_label(s) in kept]
            for teacher_entry, student_entry in pairs:
                teacher = None
                if teacher_entry is not None:
                    name = track.teacher_label(teacher_entry)
                    teacher = TeacherSpec(
                        model=known(teachers[name]), dataset=known(teacher_data), recipe=known(recipes[name]),
                        train_limit=spend.train_limit, ensemble=teacher_entry.ensemble,
                        checkpoint_epoch=checkpoints.get(name), seed=track.teacher_seed_for(seed),
                        protocol_version=track.protocol_version,
                        code=code_versions(pm, model=("models", teachers[name]),
                                           data=("datasets", teacher_data)))
                    if name in loaded:
                        teacher = as_loaded(teacher, known(loaded[name]))
                student = students[track.student_label(student_entry)]
                pair = (track.teacher_label(teacher_entry) if teacher_entry else None,
                        track.student_label(student_entry))
                data = student_data.get(track.student_label(student_entry), distill_data)
                runs.append(RunSpec(
                    track=track.name, budget=budget, dataset=known(dataset),
                    distill_data=known(data),
                    train_limit=spend.train_limit, test_limit=spend.test_limit,
                    teacher=teacher,
                    teacher_label=track.teacher_label(teacher_entry) if teacher_entry else None,
                    student=known(student), student_label=track.student_label(student_entry),
                    method=known(variants.get(pair, method)), method_label=track.method_label(ref),
                    recipe=known(student_recipes[track.student_label(student_entry)]),
                    seed=seed,
                    protocol_version=track.protocol_version,
                    code=code_versions(pm, method=("methods", variants.get(pair, method)),
                                       student=("models", student),
                                       dataset=("datasets", dataset), data=("datasets", data))))
    return runs


def _checkpoint(check: Resolver, entry: TeacherEntry, index: int, model: Ref | None, pm: PluginManager,
                source: str | None) -> Checkpoint | None:
    """A teacher entry's checkpoint with its path resolved (against the track file's folder);
    a path that cannot be, or a format that cannot map the model's names, is a problem."""
    assert entry.checkpoint is not None
    loc = ("teachers", index, "checkpoint")
    folder = Path(source).parent if source is not None and Path(source).is_file() else None
    try:
        path = resolve_path(entry.checkpoint.path, folder)
    except KdbenchError as error:
        check.problems.append(f"{where((*loc, 'path'), check.root)}: {error}")
        return None
    if entry.checkpoint.format == "repdistiller" and model is not None \
            and family(pm, model) not in RENAMES:
        check.problems.append(f"{where((*loc, 'format'), check.root)}: RepDistiller's names are "
                              f"mapped for the model families {families()}, not "
                              f"{family(pm, model)} ({model.name}); use format kdbench")
        return None
    return Checkpoint(sha256=entry.checkpoint.sha256, format=entry.checkpoint.format, path=str(path))


def as_loaded(teacher: TeacherSpec, checkpoint: Checkpoint) -> TeacherSpec:
    """A teacher whose weights come from ``checkpoint``: not trained (0 epochs, no training data
    limit, seed 0 whatever the student's), evaluated as the track's teacher recipe says."""
    recipe = Recipe(epochs=0, eval_batch_size=teacher.recipe.eval_batch_size,
                    precision=teacher.recipe.precision)
    return teacher.model_copy(update={"recipe": recipe, "train_limit": None, "seed": 0,
                                      "checkpoint": checkpoint})
