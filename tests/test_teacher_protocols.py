"""Teacher protocols in a track: early-stopped teachers with their own recipe (and how a budget
shrinks it), snapshots of a run, teachers rotated over the seeds, and the protocol version that
keys every run and teacher."""

from __future__ import annotations

import json

import pytest

from kdbench.cli import main
from kdbench.expand import expand
from kdbench.results import InvalidResult, ResultStore, RunResult, protocol_id
from kdbench.specs import Recipe, RecipePatch, TrackSpec, entry_recipe

FULL = Recipe(epochs=200, lr=0.1, milestones=(60, 120, 160), gamma=0.2)


def one_line_error(capsys, track_file) -> str:
    """The single line ``kdbench validate`` prints for a bad track (exit 2)."""
    assert main(["validate", str(track_file)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    return lines[0]


def test_an_entry_recipe_patches_the_track_recipe_at_full_budget() -> None:
    own = RecipePatch(epochs=50, milestones=[15, 30, 40])
    recipe = entry_recipe(FULL, FULL, own)
    assert (recipe.epochs, recipe.milestones, recipe.lr, recipe.gamma) == (50, (15, 30, 40), 0.1, 0.2)
    assert entry_recipe(FULL, FULL, None) is FULL


def test_a_budget_shrinks_an_entry_recipe_by_its_own_factor() -> None:
    quick = FULL.model_copy(update={"epochs": 30, "milestones": (9, 18, 24), "batch_size": 64})
    recipe = entry_recipe(FULL, quick, RecipePatch(epochs=50, milestones=[15, 30, 40], lr=0.05))
    # 30 of 200 epochs: factor 0.15; 50 -> 7.5 -> 8, decays 2.25, 4.5, 6 -> 2, 5, 6 (half up)
    assert (recipe.epochs, recipe.milestones) == (8, (2, 5, 6))
    assert (recipe.batch_size, recipe.lr) == (64, 0.05)  # the budget's batch, the entry's own lr
    smoke = FULL.model_copy(update={"epochs": 2, "milestones": ()})
    tiny = entry_recipe(FULL, smoke, RecipePatch(epochs=50, milestones=[15, 30, 40]))
    assert (tiny.epochs, tiny.milestones) == (1, ())  # at least one epoch; decays at 0 dropped


def early_track(tiny_track: dict) -> dict:
    tiny_track["teachers"].append({"label": "mlp-64-es", "model": tiny_track["teachers"][0]["model"],
                                   "recipe": {"epochs": 2, "milestones": [1]}})
    return tiny_track


def test_an_early_stopped_teacher_is_a_teacher_of_its_own(pm, tiny_track) -> None:
    runs = expand(TrackSpec.model_validate(early_track(tiny_track)), "full", pm)
    by_label = {r.teacher_label: r.teacher for r in runs if r.teacher and r.seed == 0}
    early, full = by_label["mlp-64-es"], by_label["mlp-64"]
    assert (early.recipe.epochs, early.recipe.milestones) == (2, (1,))
    assert (full.recipe.epochs, full.recipe.milestones) == (3, (2,))
    assert early.teacher_id != full.teacher_id and early.checkpoint_epoch is None
    assert {r.method.name for r in runs if r.teacher_label == "mlp-64-es"} == {"kd", "eskd"}


def test_a_snapshot_counts_epochs_of_the_entrys_own_recipe(pm, tiny_track) -> None:
    tiny_track["teachers"][0].update(recipe={"epochs": 8, "milestones": [4]}, snapshot_fraction=0.25)
    runs = expand(TrackSpec.model_validate(tiny_track), "full", pm)
    assert {r.teacher.checkpoint_epoch for r in runs if r.teacher_label == "mlp-64"} == {2}


def test_checkpoint_fraction_names_its_new_name(capsys, tiny_track, write_track) -> None:
    tiny_track["teachers"][0]["checkpoint_fraction"] = 0.25
    line = one_line_error(capsys, write_track(tiny_track))
    assert "teachers.0 (line" in line and "snapshot_fraction" in line


@pytest.mark.parametrize("recipe, where, message", [
    ({"epochs": 2, "milestones": [5]}, "teachers.2.recipe", "milestones must lie between 1 and"),
    ({"epoch": 2}, "teachers.2.recipe.epoch (line", "unknown field"),
    ({"lr": -1}, "teachers.2.recipe.lr (line", "greater than 0"),
])
def test_a_bad_entry_recipe_is_one_line_naming_it(capsys, tiny_track, write_track, recipe, where,
                                                  message) -> None:
    track = early_track(tiny_track)
    track["teachers"][2]["recipe"] = recipe
    line = one_line_error(capsys, write_track(track))
    assert where in line and message in line


def test_student_seed_s_learns_from_teacher_seeds_s_mod_n(pm, tiny_track) -> None:
    tiny_track.update(seeds=[0, 1, 2, 3, 4], teacher_seeds=[10, 20])
    runs = expand(TrackSpec.model_validate(tiny_track), "full", pm)
    assert {(r.seed, r.teacher.seed) for r in runs if r.teacher} == {
        (0, 10), (1, 20), (2, 10), (3, 20), (4, 10)}
    per_seed = {r.seed: r.teacher.teacher_id for r in runs if r.teacher_label == "mlp-64"}
    assert per_seed[0] == per_seed[2] != per_seed[1]  # kd and eskd of a seed share its teacher
    assert len({r.teacher.teacher_id for r in runs if r.teacher}) == 2 * 2


@pytest.mark.parametrize("change, field, message", [
    ({"teacher_seed": 0, "teacher_seeds": [0, 1]}, "teacher_seeds (line", "not both"),
    ({"teacher_seeds": []}, "teacher_seeds (line", "at least 1"),
    ({"teacher_seeds": [1, 1]}, "teacher_seeds (line", "seed 1 is given twice"),
    ({"teacher_seeds": [-1]}, "teacher_seeds.0 (line", "greater than or equal to 0"),
    ({"protocol_version": 0}, "protocol_version (line", "greater than or equal to 1"),
    ({"protocol_version": "2"}, "protocol_version (line", "valid integer"),
])
def test_bad_seeding_and_versions_are_one_line_naming_the_field(capsys, tiny_track, write_track,
                                                                change, field, message) -> None:
    tiny_track.update(change)
    line = one_line_error(capsys, write_track(tiny_track))
    assert field in line and message in line


def test_interval_variance_says_whose_variance_the_intervals_hold(tiny_track) -> None:
    rotated = TrackSpec.model_validate({**tiny_track, "teacher_seeds": [0, 1, 2]})
    assert rotated.interval_variance() == "students and teachers"
    assert rotated.interval_variance((0, 3)) == "students only"  # both meet teacher seed 0
    assert TrackSpec.model_validate(tiny_track).interval_variance() == "students and teachers"
    assert TrackSpec.model_validate({**tiny_track, "teacher_seed": 0}).interval_variance() == \
        "students only"
    no_teachers = {**tiny_track, "teachers": [], "methods": [{"name": "ce"}]}
    assert TrackSpec.model_validate(no_teachers).interval_variance() == "students only"


def test_a_protocol_version_changes_every_run_and_teacher_id(pm, tiny_track) -> None:
    first = expand(TrackSpec.model_validate(tiny_track), "full", pm)
    assert {r.protocol_version for r in first} == {1}
    bumped = expand(TrackSpec.model_validate({**tiny_track, "protocol_version": 2}), "full", pm)
    assert {r.protocol_version for r in bumped} == {2}
    assert not {r.run_id for r in first} & {r.run_id for r in bumped}
    assert not {r.teacher.teacher_id for r in first if r.teacher} & \
        {r.teacher.teacher_id for r in bumped if r.teacher}
    # --reuse-stale reuses runs of the same protocol made by other code, never another version's
    assert not {protocol_id(r) for r in first} & {protocol_id(r) for r in bumped}


def test_show_lists_the_recipes_of_teachers_with_their_own(capsys, tiny_track, write_track) -> None:
    assert main(["show", str(write_track(early_track(tiny_track)))]) == 0
    out = capsys.readouterr().out
    assert "teachers_own_recipes:" in out and "mlp-64-es: {epochs: 2, milestones: [1]}" in out


def test_a_teacher_of_its_own_recipe_trains_for_its_own_epochs(tmp_path, tiny_track, write_track) -> None:
    track = early_track(tiny_track)
    track["teachers"][2]["recipe"] = {"epochs": 6, "milestones": [3]}
    track["methods"] = [{"name": "kd"}]
    assert main(["run", "--spec", str(write_track(track)), "--budget", "smoke", "--results",
                 str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache")]) == 0
    records = [json.loads(path.read_text()) for path in (tmp_path / "cache").rglob("teacher.json")]
    # the smoke budget trains teachers for 1 of the track's 3 epochs, so the entry's 6 become 2
    assert sorted(len(record["history"]) for record in records) == [1, 1, 2]
    own = next(record for record in records if len(record["history"]) == 2)
    assert own["spec"]["recipe"]["milestones"] == [1] and own["spec"]["protocol_version"] == 1


def test_a_result_made_before_protocol_versions_says_so(tmp_path, pm, tiny_track) -> None:
    spec = expand(TrackSpec.model_validate(tiny_track), "full", pm)[0]
    data = json.loads(RunResult(run_id=spec.run_id, spec=spec, status="failed", reason="x")
                      .model_dump_json())
    del data["spec"]["protocol_version"]
    path = tmp_path / spec.track / spec.budget / f"{spec.run_id}.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    with pytest.raises(InvalidResult, match="made before runs carried their track's protocol_version"):
        ResultStore(tmp_path).read(path)
    assert ResultStore(tmp_path).get(spec) is None  # so the run is made again
