"""Result sets made up for board tests: finished runs with chosen metrics, without training."""

from __future__ import annotations

from typing import Any

from kdbench.results import RunResult
from kdbench.specs import DataRef, Recipe, Ref, RunSpec, TeacherSpec, TrackSpec

TEACHER_PARAMS = {"t-small": 1_000, "t-mid": 10_000, "t-big": 100_000}

TRACK: dict[str, Any] = {
    "name": "synthetic",
    "title": "Made-up results",
    "dataset": {"name": "digits"},
    "teachers": [{"label": label, "model": {"name": "mlp", "params": {"hidden": [params // 100]}}}
                 for label, params in TEACHER_PARAMS.items()],
    "students": [{"label": "s", "model": {"name": "mlp", "params": {"hidden": [8]}}}],
    "methods": [{"name": "ce"}, {"name": "kd"}, {"name": "eskd"}],
    "teacher_recipe": {"epochs": 1},
    "student_recipe": {"epochs": 1},
}


def track(**changes: Any) -> TrackSpec:
    return TrackSpec.model_validate({**TRACK, **changes})


def result(method: str, seed: int, acc: float, teacher: str | None = None, agreement: float = 90.0,
           teacher_seed: int | None = None, teacher_acc: float = 95.0, budget: str = "full") -> RunResult:
    """One finished run of the synthetic track with test accuracy ``acc`` (and ``agreement``)."""
    recipe = Recipe(epochs=1)
    data = DataRef(name="digits")
    teacher_spec = None
    if teacher is not None:
        teacher_spec = TeacherSpec(model=Ref(name="mlp", params={"hidden": [TEACHER_PARAMS[teacher]]}),
                                   dataset=data, recipe=recipe,
                                   seed=seed if teacher_seed is None else teacher_seed)
    spec = RunSpec(track="synthetic", budget=budget, dataset=Ref(name="digits"), distill_data=data,
                   teacher=teacher_spec, teacher_label=teacher, student=Ref(name="mlp"),
                   student_label="s", method=Ref(name=method), method_label=method, recipe=recipe,
                   seed=seed)
    test: dict[str, float | None] = {"student_acc": acc, "student_nll": 0.3, "student_ece": 2.0}
    if teacher is not None:
        test.update(agreement=agreement, kd_error=100 - agreement, kl=0.1, teacher_acc=teacher_acc)
    return RunResult(run_id=spec.run_id, spec=spec, status="ok", metrics={"test": test},
                     teacher_params=TEACHER_PARAMS.get(teacher), student_params=100)
