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
     "teachers.0.model.params.weights", "torchvision has no weights 'IMAGENET9K'", "weights: IMAGENET9K"),
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


@pytest.mark.parametrize("change, field, message, anchor", [
    (lambda t: t["student_recipe"].update(epochs=1_000_000_000), "student_recipe.epochs",
     "less than or equal to 10000", "epochs: 1000000000"),
    (lambda t: t["student_recipe"].update(batch_size=10**12), "student_recipe.batch_size",
     "less than or equal to 131072", "batch_size: 1000000000000"),
    (lambda t: t["teacher_recipe"].update(eval_batch_size=10**12), "teacher_recipe.eval_batch_size",
     "less than or equal to 131072", "eval_batch_size: 1000000000000"),
    (lambda t: t.update(seeds=[0, 2**64]), "seeds.1", "less than or equal to 4294967295",
     f"{2**64}"),
    (lambda t: t.update(teacher_seed=-1), "teacher_seed", "greater than or equal to 0",
     "teacher_seed: -1"),
    (lambda t: t["budgets"]["smoke"].update(seeds=[2**40]), "budgets.smoke.seeds.0",
     "less than or equal to 4294967295", f"{2**40}"),
    (lambda t: t.update(distill_data={"name": "digits", "subset": {"fraction": 0.5, "seed": 2**33}}),
     "distill_data.subset.seed", "less than or equal to 4294967295", f"seed: {2**33}"),
    (lambda t: t["teachers"][0]["model"]["params"].update(hidden=[1_000_000_000]),
     "teachers.0.model.params.hidden.0", "less than or equal to 131072", "1000000000"),
    (lambda t: t["teachers"][0]["model"]["params"].update(hidden=[-5]),
     "teachers.0.model.params.hidden.0", "greater than 0", "-5"),
    (lambda t: t["teachers"][0]["model"]["params"].update(hidden=[0]),
     "teachers.0.model.params.hidden.0", "greater than 0", "0"),
    (lambda t: t["methods"].append({"name": "crd", "params": {"feat_dim": 1e9}}),
     "methods.3.params.feat_dim", "valid integer, not a number", "feat_dim: 1000000000.0"),
    (lambda t: t["methods"].append({"name": "crd", "params": {"nce_k": 10**9}}),
     "methods.3.params.nce_k", "less than or equal to 1048576", "nce_k: 1000000000"),
    (lambda t: t["student_recipe"].update(crop_padding=100000), "student_recipe.crop_padding",
     "less than or equal to 256", "crop_padding: 100000"),
    (lambda t: t["students"][0].update(model={"name": "lenet5", "params": {"width": 1000}}),
     "students.0.model.params.width", "less than or equal to 64", "width: 1000"),
    (lambda t: t["teachers"][0].update(ensemble=1000), "teachers.0.ensemble",
     "less than or equal to 64", "ensemble: 1000"),
    (lambda t: t["budgets"]["smoke"].update(train_limit=10**12, test_limit=10**12),
     "budgets.smoke.test_limit", "less than or equal to 1000000000", "test_limit: 1000000000000"),
    (lambda t: t["student_recipe"].update(lr=float("inf")), "student_recipe.lr",
     "must be a finite number", "lr: .inf"),
    (lambda t: t["student_recipe"].update(momentum=float("nan")), "student_recipe.momentum",
     "must be a finite number", "momentum: .nan"),
    (lambda t: t["references"][0]["metrics"].update({"test.student_acc": float("nan")}),
     "references.0.metrics.test.student_acc", "must be a finite number", "test.student_acc: .nan"),
    (lambda t: t["methods"][1].update(params={"temperature": float("nan")}),
     "methods.1.params.temperature", "must be a finite number", "temperature: .nan"),
    (lambda t: t["student_recipe"].update(epochs=True), "student_recipe.epochs",
     "valid integer, not a boolean", "epochs: true"),
    (lambda t: t["student_recipe"].update(nesterov=1), "student_recipe.nesterov",
     "valid boolean, not an integer", "nesterov: 1"),
    (lambda t: t["student_recipe"].update(lr="0.1"), "student_recipe.lr",
     "valid number, not a string", "lr: '0.1'"),
    (lambda t: t["methods"][1].update(params={"temperature": "4"}), "methods.1.params.temperature",
     "valid number, not a string", "temperature: '4'"),
    (lambda t: t.update(seeds=[1, 1]), "seeds", "seed 1 is given twice", "1"),
    (lambda t: t["references"][0]["metrics"].update({"test.student_acc": 200.0}), "references.0",
     "metrics.test.student_acc: 200 is not a percentage in [0, 100]", "source: Made up for tests"),
    (lambda t: t["references"][0]["metrics"].update({"test.kl": -5.0}), "references.0",
     "metrics.test.kl: -5 cannot be negative", "source: Made up for tests"),
    (lambda t: t.update(name="a" * 300), "name", "at most 64 characters", f"name: {'a' * 300}"),
    (lambda t: t["methods"].append({"name": "hint", "params": {"teacher_tap": "layer9"}}),
     "methods.3.params.teacher_tap", "teacher mlp-64 (mlp): MLP has no feature tap 'layer9' "
     "(its taps: hidden0, penultimate", "teacher_tap: layer9"),
    (lambda t: t["methods"].append({"name": "crd", "params": {"student_tap": "stage2"}}),
     "methods.3.params.student_tap", "student mlp-16 (mlp): MLP has no feature tap 'stage2'",
     "student_tap: stage2"),
    (lambda t: t.update(distill_data={"name": "digits", "labels": False}), "methods.0.name",
     "method 'ce' trains on labels, but distill_data.labels (line", "name: ce"),
    (lambda t: t.update(teacher_data={"name": "digits", "labels": False}), "teacher_data.labels",
     "teachers train on labels", "labels: false"),
    (lambda t: t["teachers"][0]["model"].update(name="preresnet26", params={"block": "bottleneck"}),
     "teachers.0.model.params.block", "bottleneck blocks has depth 9n+2", "block: bottleneck"),
])
def test_what_would_fail_at_run_time_is_refused(capsys, tiny_track, write_track, change, field,
                                                message, anchor) -> None:
    test_bad_values_name_file_field_and_line(capsys, tiny_track, write_track, change, field, message,
                                             anchor)


def test_unlabelled_data_for_one_student_names_that_student_field(capsys, tiny_track,
                                                                   write_track) -> None:
    tiny_track["students"][0]["distill_data"] = {"name": "digits", "labels": False}
    tiny_track["methods"] = [{"name": "kd", "params": {"ce_weight": 0}}, {"name": "ce"}]
    code, lines = validate(capsys, write_track(tiny_track))
    assert code == 2 and len(lines) == 1
    assert "methods.1.name" in lines[0] and "students.0.distill_data.labels" in lines[0]


def test_existing_taps_and_module_paths_validate(capsys, tiny_track, write_track) -> None:
    tiny_track["methods"].append({"name": "hint", "params": {"student_tap": "hidden0",
                                                             "teacher_tap": "layers.1"}})
    assert validate(capsys, write_track(tiny_track)) == (0, [])


def test_duplicate_keys_name_both_lines(capsys, write_track, tiny_track) -> None:
    text = yaml.safe_dump(tiny_track, sort_keys=False).replace(
        "  lr: 0.05\n", "  lr: 0.05\n  lr: 5\n", 1)
    path = write_track(text)
    code, lines = validate(capsys, path)
    first = line_of(path, "lr: 0.05")
    assert code == 2 and lines == [f"kdbench: error: {path}: teacher_recipe.lr (line {first + 1}): "
                                   f"duplicate key 'lr', also on line {first}; give each key once"]


def test_yaml_merge_keys_are_not_duplicates(capsys, tiny_track, write_track) -> None:
    rest = {k: v for k, v in tiny_track.items() if k not in ("teacher_recipe", "student_recipe")}
    text = yaml.safe_dump(rest, sort_keys=False) + (
        "teacher_recipe: &recipe {epochs: 3, batch_size: 64, lr: 0.05, milestones: [2]}\n"
        "student_recipe: {<<: *recipe, lr: 0.1}\n")
    assert validate(capsys, write_track(text)) == (0, [])


def test_taps_of_ensemble_teachers_are_checked_on_the_ensemble(capsys, tiny_track, write_track) -> None:
    tiny_track["teachers"][1]["ensemble"] = 3
    tiny_track["methods"].append({"name": "hint", "params": {"teacher_tap": "hidden0"}})
    code, lines = validate(capsys, write_track(tiny_track))
    assert code == 2 and len(lines) == 1
    assert "methods.3.params.teacher_tap" in lines[0] and "teacher mlp-128 (mlp): Ensemble has no" in lines[0]
    tiny_track["methods"][3] = {"name": "hint", "params": {"teacher_tap": "penultimate"},
                                "teachers": ["mlp-128"]}
    assert validate(capsys, write_track(tiny_track)) == (0, [])
    tiny_track["methods"][3]["params"]["teacher_tap"] = "members.2.layers.1"
    assert validate(capsys, write_track(tiny_track)) == (0, [])


def test_kd_needs_labels_only_while_its_cross_entropy_is_on(capsys, tiny_track, write_track) -> None:
    tiny_track["distill_data"] = {"name": "digits", "labels": False}
    tiny_track["methods"] = [{"name": "kd"}, {"name": "hint", "params": {"ce_weight": 0.5}}]
    code, lines = validate(capsys, write_track(tiny_track))
    assert code == 2 and len(lines) == 2
    assert "method 'kd' trains on labels" in lines[0] and "method 'hint' trains on labels" in lines[1]
    tiny_track["methods"] = [{"name": "kd", "params": {"ce_weight": 0}}]
    assert validate(capsys, write_track(tiny_track)) == (0, [])


def test_exponents_without_a_dot_are_numbers(capsys, tiny_track, write_track) -> None:
    text = write_track(tiny_track).read_text().replace("lr: 0.05", "lr: 5e-2", 1)
    path = write_track(text, "exponent.yaml")
    assert "lr: 5e-2" in path.read_text() and validate(capsys, path) == (0, [])
    from kdbench.specfile import load_track_file

    track, _ = load_track_file(path, ())
    assert track.teacher_recipe.lr == 0.05 or track.student_recipe.lr == 0.05


def test_a_lone_bad_seed_is_one_problem_not_two(capsys, tiny_track, write_track) -> None:
    tiny_track["seeds"] = [2**64 + 1]
    code, lines = validate(capsys, write_track(tiny_track))
    assert code == 2 and len(lines) == 1 and "seeds.0" in lines[0]


TAPS_METHOD = """
    from kdbench import MethodInfo, hookimpl
    from kdbench.types import Params


    class TapsParams(Params):
        taps: list[str] = ["hidden0"]


    @hookimpl
    def kdbench_methods():
        return [MethodInfo("at-like", "reads taps of both networks", object, TapsParams)]
"""


def test_a_list_of_taps_is_checked_on_student_and_teacher(capsys, tiny_track, write_track,
                                                          install) -> None:
    install("kdbench-taps", {"kdbench_taps": TAPS_METHOD}, {"taps": "kdbench_taps"})
    tiny_track["methods"] = [{"name": "at-like", "params": {"taps": ["hidden0", "nosuch"]}}]
    code, lines = validate(capsys, write_track(tiny_track))
    assert code == 2 and len(lines) == 3  # the student and both teachers lack it
    assert all("methods.0.params.taps" in line and "no feature tap 'nosuch'" in line for line in lines)
    assert any("student mlp-16" in line for line in lines)
    tiny_track["methods"] = [{"name": "at-like", "params": {"taps": ["hidden0"]}}]
    assert validate(capsys, write_track(tiny_track)) == (0, [])


def test_validate_with_data_sees_an_empty_subset(capsys, tiny_track, write_track) -> None:
    tiny_track["distill_data"] = {"name": "digits", "subset": {"fraction": 1e-6}}
    path = write_track(tiny_track)
    assert validate(capsys, path) == (0, [])  # without the data, the size is unknown
    assert main(["validate", str(path), "--data"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert f"{path}: distill_data.subset.fraction" in line and "leaves none of the" in line
