"""``--set PATH=VALUE``: parsed as a dotted path and a YAML value, applied to the raw track before
validation (so an override is exactly a file edit, run ids included), problems named by the
override, malformed options refused in one line with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kdbench.cli import main
from kdbench.errors import KdbenchError
from kdbench.expand import expand
from kdbench.overrides import Override, apply_overrides, blame, parse_override, parse_overrides
from kdbench.specfile import load_track_file


@pytest.mark.parametrize("text, path, value", [
    ("student_recipe.lr=0.05", ("student_recipe", "lr"), 0.05),
    ("seeds=[0,1,2]", ("seeds",), [0, 1, 2]),
    ("methods.1.params.temperature=2", ("methods", "1", "params", "temperature"), 2),
    ("student_recipe.nesterov=true", ("student_recipe", "nesterov"), True),
    ("methods=[{name: kd}]", ("methods",), [{"name": "kd"}]),
    ("teacher_seed=null", ("teacher_seed",), None),
    ("title=a=b", ("title",), "a=b"),
    ("dataset.name='2'", ("dataset", "name"), "2"),
])
def test_a_path_and_a_yaml_value(text: str, path: tuple[str, ...], value: object) -> None:
    override = parse_override(text)
    assert (override.path, override.value, override.option) == (path, value, f"--set {text}")


@pytest.mark.parametrize("text, message", [
    ("seeds", "expected PATH=VALUE"),
    ("=1", "has an empty part"),
    ("student_recipe..lr=1", "has an empty part"),
    ("student_recipe.lr=", "give a value after '='"),
    ("seeds=[0, 1", "not valid YAML"),
    ("methods={name: kd", "not valid YAML"),
    ("seeds=&a [1]", "anchors, aliases and tags"),
    ("title=!!python/object/apply:os.system [ls]", "anchors, aliases and tags"),
])
def test_a_malformed_override_is_one_line_naming_it(text: str, message: str) -> None:
    with pytest.raises(KdbenchError, match=message) as caught:
        parse_override(text)
    assert caught.value.lines() == [str(caught.value)]
    assert str(caught.value).startswith(f"--set {text}: ") and "\n" not in str(caught.value)


def test_apply_copies_creates_mappings_and_indexes_lists() -> None:
    data = {"methods": [{"name": "ce"}, {"name": "kd", "params": {"temperature": 4}}],
            "teacher_data": None}
    out = apply_overrides(data, parse_overrides([
        "methods.1.params.temperature=2", "budgets.quick.train_limit=100",
        "teacher_data.name=digits", "methods.0.params={}"]))
    assert out["methods"][1]["params"] == {"temperature": 2}
    assert out["budgets"] == {"quick": {"train_limit": 100}}
    assert out["teacher_data"] == {"name": "digits"} and out["methods"][0]["params"] == {}
    assert data["methods"][1]["params"] == {"temperature": 4} and "budgets" not in data


def test_a_later_override_wins_and_values_are_not_shared() -> None:
    overrides = parse_overrides(["seeds=[1]", "seeds=[2, 3]"])
    first = apply_overrides({}, overrides)
    assert first == {"seeds": [2, 3]}
    first["seeds"].append(4)
    assert apply_overrides({}, overrides) == {"seeds": [2, 3]}


@pytest.mark.parametrize("text, message", [
    ("methods.2.name=kd", "methods is a list of 2; index it with 0 to 1"),
    ("methods.first.name=kd", "methods is a list of 2"),
    ("seeds.0.x=1", "seeds.0 is 0, which has no field 'x'"),
])
def test_a_path_that_cannot_be_walked_names_where_it_stops(text: str, message: str) -> None:
    with pytest.raises(KdbenchError, match=message):
        apply_overrides({"methods": [{}, {}], "seeds": [0]}, parse_overrides([text]))


def test_blame_names_the_override_of_a_field_its_parents_and_its_children() -> None:
    lr, seeds = Override("student_recipe.lr=1", ("student_recipe", "lr"), 1), Override(
        "seeds=[1]", ("seeds",), [1])

    class Root:
        overrides = (lr, seeds)

    assert blame(Root, ("student_recipe", "lr")) is lr
    assert blame(Root, ("student_recipe",)) is lr  # a recipe-wide check of the changed recipe
    assert blame(Root, ("seeds", 0)) is seeds
    assert blame(Root, ("student_recipe", "epochs")) is None
    assert blame(Root, ()) is None and blame(None, ("seeds",)) is None


def test_an_override_is_a_file_edit_down_to_the_run_ids(tiny_track, write_track, pm) -> None:
    plain = write_track(tiny_track, "plain.yaml")
    tiny_track["student_recipe"]["lr"] = 0.07
    tiny_track["methods"][1]["params"] = {"temperature": 2}
    edited = write_track(tiny_track, "edited.yaml")
    overrides = parse_overrides(["student_recipe.lr=0.07", "methods.1.params={temperature: 2}"])

    def run_ids(path: Path, given=()) -> list[str]:
        track, root = load_track_file(path, given)
        return [run.run_id for run in expand(track, "full", pm, root=root)]

    assert run_ids(plain, overrides) == run_ids(edited)
    assert set(run_ids(plain, overrides)).isdisjoint(run_ids(plain))
    assert load_track_file(plain, overrides)[0] == load_track_file(edited)[0]


def errors(capsys) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.splitlines()


@pytest.mark.parametrize("override, line", [
    ("student_recipe.lr=-1",
     "student_recipe.lr (--set student_recipe.lr=-1): Input should be greater than 0"),
    ("student_recipe.lrr=1", "student_recipe.lrr (--set student_recipe.lrr=1): unknown field"),
    ("methods.1.params.temperature=0",
     "methods.1.params.temperature (--set methods.1.params.temperature=0): Input should be greater than 0"),
    ("methods.1.params.alpha=0.5",
     "methods.1.params.alpha (--set methods.1.params.alpha=0.5): unknown field"),
    ("seeds=[0, x]", "seeds.1 (--set seeds=[0, x]): Input should be a valid integer"),
    ("student_recipe.epochs=2",
     "student_recipe (--set student_recipe.epochs=2): milestones must lie between 1 and epochs - 1"),
])
def test_validate_names_the_override_that_broke_the_track(capsys, tiny_track, write_track,
                                                         override: str, line: str) -> None:
    path = write_track(tiny_track)
    assert main(["validate", str(path), "--set", override]) == 2
    [problem] = errors(capsys)
    assert problem.startswith(f"kdbench: error: {path}: {line}")


def test_problems_the_file_has_keep_their_lines(capsys, tiny_track, write_track) -> None:
    tiny_track["teacher_recipe"]["lr"] = -1
    path = write_track(tiny_track)
    assert main(["validate", str(path), "--set", "student_recipe.lr=-1"]) == 2
    lines = errors(capsys)
    assert len(lines) == 2 and any(f"{path}: teacher_recipe.lr (line " in line for line in lines)
    assert any("(--set student_recipe.lr=-1)" in line for line in lines)


@pytest.mark.parametrize("command", [["validate", "{path}"], ["show", "{path}"],
                                     ["run", "--spec", "{path}", "--budget", "smoke"]])
def test_a_malformed_set_exits_2_in_one_line_before_anything_runs(
        capsys, tmp_path, tiny_track, write_track, command: list[str]) -> None:
    path = str(write_track(tiny_track))
    argv = [part.format(path=path) for part in command] + ["--set", "seeds"]
    assert main(argv + ["--results", str(tmp_path / "results")] if command[0] == "run" else argv) == 2
    assert errors(capsys) == ["kdbench: error: --set seeds: expected PATH=VALUE, e.g. "
                              "--set student_recipe.lr=0.05"]
    assert not (tmp_path / "results").exists()


def test_validate_applies_the_overrides_to_a_good_track(capsys, tiny_track, write_track) -> None:
    path = write_track(tiny_track)
    assert main(["validate", str(path), "--set", "seeds=[3, 4]", "--set", "name=tiny2"]) == 0
    assert capsys.readouterr().out == f"{path}: ok (track tiny2)\n"


def test_show_prints_the_overridden_track(capsys, tiny_track, write_track) -> None:
    path = write_track(tiny_track)
    assert main(["show", str(path), "--set", "student_recipe.lr=0.2", "--set", "seeds=[5, 6]"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["overrides"] == ["student_recipe.lr=0.2", "seeds=[5, 6]"]
    assert shown["student_recipe"]["lr"] == 0.2 and shown["seeds"] == [5, 6]
    assert shown["resolved"]["full"]["student_recipe"]["lr"] == 0.2
    assert shown["resolved"]["full"]["seeds"] == [5, 6] and shown["resolved"]["smoke"]["seeds"] == [0]


def test_run_trains_the_overridden_track(capsys, tmp_path, tiny_track, write_track) -> None:
    path = write_track(tiny_track)
    results = tmp_path / "results"
    code = main(["run", "--spec", str(path), "--budget", "smoke", "--results", str(results),
                 "--set", "methods=[{name: ce}]", "--set", "budgets.smoke.student.lr=0.03",
                 "--set", "budgets.smoke.student.epochs=1", "--set", "budgets.smoke.student.milestones=[]"])
    assert code == 0, capsys.readouterr().err
    [result] = [json.loads(p.read_text()) for p in results.rglob("*.json")]
    assert result["spec"]["method"]["name"] == "ce" and result["status"] == "ok"
    assert result["spec"]["recipe"]["lr"] == 0.03 and len(result["history"]) == 1


def test_an_exponent_without_a_dot_is_a_number() -> None:
    from kdbench.overrides import parse_overrides

    (override,) = parse_overrides(["student_recipe.lr=1e-3"])
    assert override.value == 0.001
