"""Expansion of a track into runs, and the content hashes that key runs and teachers."""

from __future__ import annotations

from kdbench.expand import expand
from kdbench.specfile import load_track_file
from kdbench.specs import TrackSpec
from kdbench.trackpath import track_path


def test_quickstart_expands_into_ce_once_per_student_and_seed(pm) -> None:
    track, _ = load_track_file(track_path("quickstart", pm))
    runs = expand(track, "full", pm)
    assert len(runs) == 3 * (1 + 3 + 1)  # 3 seeds: ce, kd from each teacher, eskd from the widest
    ce = [r for r in runs if r.method.name == "ce"]
    assert len(ce) == 3 and all(r.teacher is None and r.teacher_label is None for r in ce)
    eskd = [r for r in runs if r.method.name == "eskd"]
    assert {r.method.params["stop_epoch"] for r in eskd} == {track.student_recipe.milestones[0]}
    assert len({r.run_id for r in runs}) == len(runs)
    # one teacher per width, shared by every seed (the track fixes teacher_seed) and both methods
    assert len({r.teacher.teacher_id for r in runs if r.teacher}) == 3


def test_smoke_budget_patches_recipes_and_resolves_defaults(pm) -> None:
    track, _ = load_track_file(track_path("quickstart", pm))
    runs = expand(track, "smoke", pm)
    assert {r.seed for r in runs} == {0}
    assert all(r.recipe.epochs == 2 and r.train_limit == 256 for r in runs)
    assert {r.method.params["stop_epoch"] for r in runs if r.method.name == "eskd"} == {1}
    assert runs[0].method.params == {"label_smoothing": 0.0}  # defaults filled in


def test_run_ids_are_content_hashes(pm, tiny_track) -> None:
    track = TrackSpec.model_validate(tiny_track)
    first, again = expand(track, "full", pm), expand(track, "full", pm)
    assert [r.run_id for r in first] == [r.run_id for r in again]
    tiny_track["student_recipe"]["lr"] = 0.01
    changed = expand(TrackSpec.model_validate(tiny_track), "full", pm)
    assert not {r.run_id for r in changed} & {r.run_id for r in first}
    assert {r.teacher.teacher_id for r in changed if r.teacher} == \
        {r.teacher.teacher_id for r in first if r.teacher}  # the teachers did not change


def test_teacher_ids_do_not_depend_on_the_track_and_follow_seeds(pm, tiny_track) -> None:
    runs = expand(TrackSpec.model_validate(tiny_track), "full", pm)
    tiny_track["name"] = "renamed"
    renamed = expand(TrackSpec.model_validate(tiny_track), "full", pm)
    ids = {r.teacher.teacher_id for r in runs if r.teacher}
    assert ids == {r.teacher.teacher_id for r in renamed if r.teacher}
    assert len(ids) == 2 * 2  # two teachers, trained per seed (no teacher_seed)


def test_seeds_override(pm, tiny_track) -> None:
    runs = expand(TrackSpec.model_validate(tiny_track), "full", pm, seeds=(7, 8, 9))
    assert sorted({r.seed for r in runs}) == [7, 8, 9]


def test_methods_can_be_limited_to_some_teachers(pm, tiny_track) -> None:
    tiny_track["methods"][2]["teachers"] = ["mlp-128"]
    runs = expand(TrackSpec.model_validate(tiny_track), "full", pm)
    assert {r.teacher_label for r in runs if r.method.name == "eskd"} == {"mlp-128"}
    assert {r.teacher_label for r in runs if r.method.name == "kd"} == {"mlp-64", "mlp-128"}


def test_a_budget_can_swap_models(pm, tiny_track) -> None:
    tiny_track["budgets"]["smoke"]["models"] = {"mlp-128": {"name": "lenet5"}}
    smoke = expand(TrackSpec.model_validate(tiny_track), "smoke", pm)
    full = expand(TrackSpec.model_validate(tiny_track), "full", pm)
    assert {r.teacher.model.name for r in smoke if r.teacher_label == "mlp-128"} == {"lenet5"}
    assert {r.teacher.model.name for r in full if r.teacher_label == "mlp-128"} == {"mlp"}


def test_a_student_can_have_its_own_distillation_data(pm, tiny_track) -> None:
    tiny_track["students"].append({"label": "mlp-16-half", "model": {"name": "mlp"},
                                   "distill_data": {"name": "digits", "subset": {"fraction": 0.5},
                                                    "labels": False}})
    tiny_track["methods"] = [{"name": "kd", "params": {"ce_weight": 0}}]  # without labels, no CE
    runs = expand(TrackSpec.model_validate(tiny_track), "full", pm)
    half = [r for r in runs if r.student_label == "mlp-16-half"]
    assert half and all(r.distill_data.subset.fraction == 0.5 and not r.distill_data.labels
                        for r in half)
    assert all(r.distill_data.subset is None for r in runs if r.student_label == "mlp-16")
