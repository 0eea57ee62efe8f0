"""``kdbench validate``: exit 0 for a good track; exit 2 with one line per problem naming the
file, the field path and the line for every kind of bad input; never a traceback."""

from __future__ import annotations

import pytest
import yaml

from kdbench.builtin import TRACKS_DIR
from kdbench.cli import main


def validate(capsys, path) -> tuple[int, list[str]]:
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, [line for line in err.splitlines() if line]


def test_builtin_tracks_are_valid(capsys) -> None:
    for path in sorted(TRACKS_DIR.glob("*.yaml")):
        assert main(["validate", str(path)]) == 0, capsys.readouterr().err


def test_tiny_track_is_valid(capsys, tiny_track, write_track) -> None:
    assert validate(capsys, write_track(tiny_track)) == (0, [])


def line_of(path, anchor: str) -> int:
    """The 1-based line of ``path`` that reads ``anchor`` (ignoring indentation and "- ")."""
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip().removeprefix("- ") == anchor)


@pytest.mark.parametrize("change, field, message, anchor", [
    (lambda t: t.update(colour="blue"), "colour", "unknown field", "colour: blue"),
    (lambda t: t["student_recipe"].update(epochs="many"), "student_recipe.epochs",
     "Input should be a valid integer", "epochs: many"),
    (lambda t: t["student_recipe"].update(epochs=-1), "student_recipe.epochs",
     "Input should be greater than or equal to 0", "epochs: -1"),
    (lambda t: t["methods"][1].update(teachers=["mlp-99"]), "<top level>",
     "method 'kd': no teacher labelled 'mlp-99'", None),
    (lambda t: t["budgets"]["smoke"].update(models={"nobody": {"name": "mlp"}}), "<top level>",
     "budgets.smoke.models: no teacher or student labelled 'nobody'", None),
    (lambda t: t["budgets"]["smoke"].update(models={"mlp-16": {"name": "mpl"}}),
     "budgets.smoke.models.mlp-16.name", "unknown model 'mpl'", "name: mpl"),
    (lambda t: t["student_recipe"].update(optimizer="lion"), "student_recipe.optimizer",
     "Input should be 'sgd', 'adam' or 'adamw'", "optimizer: lion"),
    (lambda t: t.pop("students"), "students", "required field is missing", None),
    (lambda t: t["methods"].append({"name": "kd2"}), "methods.3.name",
     "unknown method 'kd2'; did you mean 'kd'", "name: kd2"),
    (lambda t: t["methods"][1].update(params={"temperature": -1}), "methods.1.params.temperature",
     "Input should be greater than 0", "temperature: -1"),
    (lambda t: t["methods"][1].update(params={"alpha": 0.5}), "methods.1.params.alpha",
     "unknown field", "alpha: 0.5"),
    (lambda t: t["teachers"][0]["model"].update(name="lenet"), "teachers.0.model.name",
     "unknown model 'lenet'; did you mean 'lenet5'", "name: lenet"),
    (lambda t: t["teachers"][0]["model"].update(name="wrn-15-2", params={}), "teachers.0.model.name",
     "a WRN's depth is 6n+4", "name: wrn-15-2"),
    (lambda t: t["teachers"][0]["model"].update(name="torchvision/resnet18",
                                                params={"weights": "IMAGENET9K"}),
     "teachers.0.model.name", "torchvision has no weights 'IMAGENET9K'", "name: torchvision/resnet18"),
    (lambda t: t["dataset"].update(name="digit"), "dataset.name",
     "unknown dataset 'digit'; did you mean 'digits'", "name: digit"),
    (lambda t: t["budgets"]["smoke"]["student"].update(epochs=-3), "budgets.smoke.student.epochs",
     "Input should be greater than or equal to 0", "epochs: -3"),
    (lambda t: t["budgets"]["smoke"]["student"].update(milestones=[5]), "budgets.smoke.student",
     "milestones must lie between 1 and epochs - 1 = 1 (budget smoke)", "epochs: 2"),
    (lambda t: t["methods"].append({"name": "kd", "params": {"temperature": 1}}), "methods",
     "label 'kd' is used twice", "name: ce"),
    (lambda t: t["references"][0]["metrics"].update({"test.accuracy": 1}), "references.0",
     "unknown metric 'test.accuracy'", None),
    (lambda t: t["methods"].append({"name": "eskd", "label": "late", "params": {"stop_epoch": 9}}),
     "methods.3.params", "stop_epoch 9 is outside 0..3 (the recipe's epochs) (budget full)", None),
])
def test_bad_values_name_file_field_and_line(capsys, tiny_track, write_track, change, field,
                                             message, anchor) -> None:
    change(tiny_track)
    path = write_track(tiny_track)
    code, lines = validate(capsys, path)
    assert code == 2
    assert all(line.startswith(f"kdbench: error: {path}: ") for line in lines)
    expected = f"{field} (line {line_of(path, anchor)}): " if anchor else f"{field} ("
    assert any(expected in text and message in text for text in lines), (expected, lines)


def test_every_problem_is_reported_once(capsys, tiny_track, write_track) -> None:
    tiny_track["methods"][1]["name"] = "kdd"
    tiny_track["dataset"]["name"] = "nope"
    code, lines = validate(capsys, write_track(tiny_track))
    assert code == 2 and len(lines) == 2


@pytest.mark.parametrize("text, expected", [
    ("", "the file is empty"),
    ("# only a comment\n", "the file is empty"),
    ("- a\n- list\n", "expected a mapping at the top level, got list"),
    ("just a string", "expected a mapping at the top level, got str"),
    ("name: x\n  title: [unclosed\n", "line 2, column"),
    ("name: [1, 2\ntitle: x\n", "invalid YAML"),
    ("a: 1\na: 2\n\t- tab", "invalid YAML"),
])
def test_malformed_files(capsys, write_track, text, expected) -> None:
    code, lines = validate(capsys, write_track(text))
    assert code == 2 and len(lines) == 1 and expected in lines[0]


def test_binary_and_missing_files(capsys, tmp_path) -> None:
    binary = tmp_path / "garbage.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    code, lines = validate(capsys, binary)
    assert code == 2 and len(lines) == 1 and "garbage.yaml" in lines[0]
    code, lines = validate(capsys, tmp_path / "missing.yaml")
    assert code == 2 and "cannot read file" in lines[0]


def test_alias_bomb_is_refused_quickly(capsys, write_track) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    code, problems = validate(capsys, write_track("\n".join(lines) + "\n"))
    assert code == 2 and len(problems) == 1 and "expands to more than 100,000 values" in problems[0]


def test_anchors_for_repeated_recipes_still_work(capsys, tiny_track, write_track) -> None:
    rest = {k: v for k, v in tiny_track.items() if k not in ("teacher_recipe", "student_recipe")}
    text = yaml.safe_dump(rest, sort_keys=False) + (
        "teacher_recipe: &recipe {epochs: 3, batch_size: 64, lr: 0.05, milestones: [2]}\n"
        "student_recipe: *recipe\n")
    assert validate(capsys, write_track(text)) == (0, [])
