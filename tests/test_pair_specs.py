"""Track fields for pair tables: a student's own recipe, a method's parameters per pair and a
budget that runs only some pairs; each validated with a one-line error naming the field."""

from __future__ import annotations

import copy

import pytest

from kdbench.cli import main
from kdbench.expand import expand
from kdbench.leaderboard import protocol
from kdbench.specfile import load_track_file


def paired(tiny_track: dict) -> dict:
    """The tiny track with two students, explicit pairs and the three new fields."""
    tiny_track = copy.deepcopy(tiny_track)
    tiny_track["students"].append({"label": "mlp-8", "model": {"name": "mlp", "params": {"hidden": [8]}},
                                   "recipe": {"lr": 0.01}})
    tiny_track["pairs"] = [{"teacher": "mlp-64", "student": "mlp-16"},
                           {"teacher": "mlp-128", "student": "mlp-16"},
                           {"teacher": "mlp-128", "student": "mlp-8"}]
    tiny_track["methods"] = [{"name": "ce"}, {"name": "kd", "params": {"temperature": 4}, "pair_params": [
        {"teacher": "mlp-128", "student": "mlp-8", "params": {"temperature": 2}}]}]
    tiny_track["budgets"]["smoke"]["pairs"] = [{"teacher": "mlp-64", "student": "mlp-16"}]
    return tiny_track


def runs(write_track, track: dict, budget: str, pm) -> list:
    spec, root = load_track_file(write_track(track))
    return expand(spec, budget, pm, root=root)


def test_a_students_own_recipe_applies_to_its_runs_alone_at_every_budget(tiny_track, write_track, pm):
    track = paired(tiny_track)
    for budget, epochs in (("full", 3), ("smoke", 2)):
        found = {(r.student_label, r.recipe.lr, r.recipe.epochs)
                 for r in runs(write_track, track, budget, pm)}
        assert {lr for label, lr, _ in found if label == "mlp-8"} <= {0.01}
        assert {lr for label, lr, _ in found if label == "mlp-16"} == {0.05}
        assert {e for *_, e in found} == {epochs}
    full = runs(write_track, track, "full", pm)
    assert {r.recipe.lr for r in full if r.student_label == "mlp-8" and r.method.name == "ce"} == {0.01}


def test_pair_params_replace_the_methods_params_for_that_pair_only(tiny_track, write_track, pm):
    full = [r for r in runs(write_track, paired(tiny_track), "full", pm) if r.method.name == "kd"]
    temperatures = {(r.teacher_label, r.student_label): r.method.params["temperature"] for r in full}
    assert temperatures == {("mlp-64", "mlp-16"): 4, ("mlp-128", "mlp-16"): 4, ("mlp-128", "mlp-8"): 2}
    assert len({r.run_id for r in full}) == len(full) and {r.method_label for r in full} == {"kd"}


def test_a_budgets_pairs_keep_those_pairs_and_their_students(tiny_track, write_track, pm):
    smoke = runs(write_track, paired(tiny_track), "smoke", pm)
    assert {(r.teacher_label, r.student_label, r.method.name) for r in smoke} == {
        ("mlp-64", "mlp-16", "kd"), (None, "mlp-16", "ce")}
    assert len(runs(write_track, paired(tiny_track), "full", pm)) == 2 * (3 + 2)


def test_the_protocol_lists_pairs_by_budget_own_recipes_and_pair_params(tiny_track, write_track):
    spec, _ = load_track_file(write_track(paired(tiny_track)))
    text = protocol(spec)
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in text.splitlines()]
    assert ["mlp-128", "mlp-8", "full"] in rows and ["mlp-64", "mlp-16", "full, smoke"] in rows
    assert "own recipe: lr 0.01" in text
    assert "temperature=4; mlp-128 -> mlp-8: temperature=2" in text


def test_pages_of_tracks_without_the_new_fields_have_no_pairs_table(tiny_track, write_track):
    spec, _ = load_track_file(write_track(tiny_track))
    text = protocol(spec)
    assert "| budgets" not in text and "own recipe" not in text and " -> " not in text


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t["methods"][1]["pair_params"].append(
        {"teacher": "mlp-64", "student": "mlp-8", "params": {"temperature": 1}}),
     "pair_params names mlp-64 -> mlp-8, which is not one of its pairs"),
    (lambda t: t["methods"][1]["pair_params"].append(
        {"teacher": "mlp-128", "student": "mlp-8", "params": {"temperature": 1}}),
     "pair_params names mlp-128 -> mlp-8 twice"),
    (lambda t: t["budgets"]["smoke"]["pairs"].append({"teacher": "mlp-64", "student": "mlp-8"}),
     "budgets.smoke.pairs: mlp-64 -> mlp-8 is not one of the track's pairs"),
    (lambda t: t["methods"][1]["pair_params"][0]["params"].update(temperature=-1),
     "methods.1.pair_params.0.params.temperature"),
    (lambda t: t["students"][1]["recipe"].update(lr=-1), "students.1.recipe.lr"),
])
def test_bad_pair_fields_are_one_line_errors(tiny_track, write_track, capsys, change, message):
    track = paired(tiny_track)
    change(track)
    assert main(["validate", str(write_track(track))]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
