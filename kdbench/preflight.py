"""Checks before anything trains: of the runs' training data (a subset that leaves no examples,
or, taken per class, none of some class, would otherwise train nothing, or stop a sweep after its
earlier runs trained) and of the checkpoint files that teachers are loaded from (the sha256, then
the file's contents against the model)."""

from __future__ import annotations

from pathlib import Path

from kdbench.build import build_model
from kdbench.checkpoints import load_weights
from kdbench.data.source import DataSource
from kdbench.data.subsets import subset_indices
from kdbench.errors import KdbenchError
from kdbench.plugins import PluginManager
from kdbench.specs import DataRef, Ref, RunSpec, TeacherSpec
from kdbench.teachers import member_weights


def data_problems(runs: list[RunSpec], data: DataSource) -> list[str]:
    """One line per training set of ``runs`` (students' and teachers') that is empty, or that a
    ``per_class`` subset leaves without some class; each names the field and whose data it is."""
    owners: dict[tuple[str, str], list[str]] = {}
    refs: dict[tuple[str, str], DataRef] = {}
    for spec in runs:
        uses = [("distill_data", f"student {spec.student_label}", spec.distill_data)]
        if spec.teacher is not None:
            uses.append(("teacher_data", f"teacher {spec.teacher_label}", spec.teacher.dataset))
        for field, whose, ref in uses:
            key = (field, ref.model_dump_json())
            refs[key] = ref
            if whose not in owners.setdefault(key, []):
                owners[key].append(whose)
    return [problem for key, ref in refs.items()
            for problem in _problems(key[0], ", ".join(owners[key]), ref, data)]


def _problems(field: str, whose: str, ref: DataRef, data: DataSource) -> list[str]:
    """The problems of one training set: empty, a subset the split cannot give, or a class gone."""
    labels = data.load(ref, "train").labels.cpu()
    if ref.subset is None:
        return [] if len(labels) else [f"{field} ({whose}): the train split of {ref.name} is empty"]
    kind = "fraction" if ref.subset.fraction is not None else "per_class"
    try:
        chosen = labels[subset_indices(labels, ref.subset)]
    except KdbenchError as error:
        return [f"{field}.subset.{kind} ({whose}): {error}"]
    if len(chosen) == 0:
        return [f"{field}.subset.{kind} ({whose}): leaves none of the {len(labels):,} examples of "
                f"the train split of {ref.name}; nothing would train"]
    missing = sorted(set(labels.unique().tolist()) - set(chosen.unique().tolist()))
    if kind == "per_class" and missing:
        classes = f"class {missing[0]}" if len(missing) == 1 else f"classes {', '.join(map(str, missing))}"
        return [f"{field}.subset.per_class ({whose}): leaves no example of {classes} of the train "
                f"split of {ref.name}"]
    return []


def checkpoint_problems(runs: list[RunSpec], pm: PluginManager, data: DataSource,
                        cache: Path | None = None) -> list[str]:
    """One line per teacher checkpoint of ``runs`` that is missing, has another sha256 than the
    track gives, cannot be read safely or does not fit its model; teachers already in ``cache``'s
    teacher folder need no file."""
    teachers: dict[str, tuple[str, TeacherSpec]] = {}
    for spec in runs:
        if spec.teacher is not None and spec.teacher.checkpoint is not None:
            teachers.setdefault(spec.teacher.teacher_id, (str(spec.teacher_label), spec.teacher))
    problems = []
    for label, teacher in teachers.values():
        if cache is not None and _cached(Path(cache) / "teachers", teacher):
            continue
        assert teacher.checkpoint is not None
        model = build_model(pm, teacher.model, data.evaluation(Ref(name=teacher.dataset.name,
                                                                   params=teacher.dataset.params)))
        try:
            load_weights(teacher.checkpoint, model, pm, teacher.model)
        except KdbenchError as error:
            problems.append(f"teacher {label}: {error}")
    return problems


def _cached(root: Path, teacher: TeacherSpec) -> bool:
    return (member_weights(root, teacher, None).is_file()
            and (root / teacher.teacher_id / "teacher.json").is_file())
