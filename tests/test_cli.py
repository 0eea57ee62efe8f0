"""The smaller commands: list, show, schema, version, help."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from kdbench.cli import main


def test_list_each_kind_names_the_distribution(capsys) -> None:
    assert main(["list", "datasets"]) == 0
    out = capsys.readouterr().out
    assert "mnist-5k" in out and "digits" in out and "kdbench" in out
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for heading in ("methods:", "models:", "datasets:", "tracks:"):
        assert heading in out


def test_show_prints_the_resolved_track(capsys) -> None:
    assert main(["show", "quickstart"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["name"] == "quickstart"
    smoke = shown["resolved"]["smoke"]
    assert smoke["runs"] == 5 and smoke["seeds"] == [0]  # ce, kd from 3 teachers, eskd from one
    assert smoke["student_recipe"]["epochs"] == 2 and smoke["methods"]["eskd"]["stop_epoch"] == 1
    assert shown["resolved"]["full"]["runs"] == 15


def test_schema_spells_out_plugin_params(capsys) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    defs = schema["$defs"]
    assert defs["KDParams"]["properties"]["temperature"]["exclusiveMinimum"] == 0
    assert defs["Method_kd"]["properties"]["name"]["const"] == "kd"
    assert defs["Recipe"]["additionalProperties"] is False


def test_version_and_no_command(capsys) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("kdbench ")
    assert main([]) == 2


def test_show_is_compact_yaml_with_a_readable_description(capsys) -> None:
    assert main(["show", "quickstart"]) == 0
    out = capsys.readouterr().out
    shown = yaml.safe_load(out)
    assert "null" not in out and len(out.splitlines()) < 250
    assert "\n- {name: kd, params: {ce_weight: 0.1, kd_weight: 0.9, temperature: 4}}\n" in out
    assert "\n    student: {epochs: 2, milestones: [1], warmup_epochs: 0}\n" in out
    assert "description: |\n  Cho & Hariharan's question at laptop scale" in out
    assert shown["description"].startswith("Cho & Hariharan's question")
    assert shown["budgets"]["full"] == {} and shown["budgets"]["smoke"]["train_limit"] == 256
    assert set(shown["budgets"]["quick"]["student"]) == {"epochs", "milestones", "warmup_epochs"}
    smoke = shown["resolved"]["smoke"]
    assert smoke["teacher_recipe"]["epochs"] == 1 and smoke["teacher_recipe"]["optimizer"] == "sgd"
    assert smoke["train_limit"] == 256 and smoke["students"] == {"lenet5-w0.5": "lenet5(width=0.5)"}
    assert smoke["teachers"]["lenet5-w4"] == "lenet5(width=4.0)"


def test_show_model_prints_each_tap_with_its_module_and_shape(capsys) -> None:
    assert main(["show", "model", "lenet5", "--input", "3x32x32", "--classes", "100",
                 "--set", "width=2"]) == 0
    head, _, _, *rows = capsys.readouterr().out.splitlines()
    assert head.startswith("lenet5(width=2.0) on 3x32x32 images, 100 classes: ")
    assert [row.split() for row in rows] == [
        ["conv1", "features.1", "12x32x32"], ["conv2", "features.4", "32x12x12"],
        ["fc1", "classifier.1", "240"], ["fc2", "classifier.3", "168"],
        ["penultimate", "classifier.3", "168"]]
    assert main(["show", "model", "wrn-16-2", "--dataset", "digits"]) == 0
    out = capsys.readouterr().out
    assert "wrn-16-2(dropout=0.0) on digits, 1x8x8 images, 10 classes" in out
    assert out.splitlines()[-1].split() == ["penultimate", "pool", "128"]


@pytest.mark.parametrize("argv, message", [
    (["show", "model"], "give the model's name"),
    (["show", "model", "lenet"], "unknown model 'lenet'"),
    (["show", "model", "lenet5", "--input", "3x32"], "--input 3x32: expected CxHxW"),
    (["show", "model", "lenet5", "--input", "3x32x16"], "must be square"),
    (["show", "model", "lenet5", "--classes", "3"], "--classes goes with --input"),
    (["show", "model", "lenet5", "--input", "1x8x8", "--dataset", "digits"], "give one of them"),
    (["show", "model", "lenet5", "--set", "width=-1"],
     "model lenet5: width (--set width=-1): Input should be greater than 0"),
    (["show", "model", "lenet5", "--set", "depth=3"], "model lenet5: depth (--set depth=3): unknown field"),
    (["show", "model", "wrn-15-2", "--input", "3x32x32"], "depth is 6n+4"),
    (["show", "model", "wrn-16-2", "--dataset", "cifar10"], "or give its shape: --input CxHxW"),
    (["show", "quickstart", "lenet5"], "kdbench show model lenet5"),
    (["show", "quickstart", "--input", "1x8x8"], "--input: only for `kdbench show model NAME`"),
])
def test_show_refuses_bad_input_in_one_line(capsys, argv, message) -> None:
    assert main(argv) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("kdbench: error: ") and message in line


def option_help(text: str) -> dict[str, str]:
    """Each option of a ``--help`` text with its help, joined into one line."""
    found: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        match = re.match(r"^  (-[-\w]+)", line)
        if match:
            current = match.group(1)
            found[current] = line
        elif current and line.startswith("    "):
            found[current] += " " + line.strip()
        else:
            current = None
    return found


@pytest.mark.parametrize("command", ["run", "show", "validate", "leaderboard", "verify", "bench"])
def test_every_option_that_takes_a_value_states_its_default(capsys, monkeypatch, command) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        main([command, "--help"])
    options = option_help(capsys.readouterr().out)
    takes_value = {option: text for option, text in options.items()
                   if re.match(r"^  -[-\w]+ [A-Z{\[]", text)}  # a metavar follows: not a flag
    assert takes_value
    for option, text in takes_value.items():
        assert "default: " in text or "required" in text, f"{command} {option}: {text}"


def test_help_names_defaults_and_the_environment(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    options = option_help(capsys.readouterr().out)
    assert "(default: full)" in options["--budget"] and "(default: auto)" in options["--device"]
    for option, variable in (("--results", "KDBENCH_RESULTS"), ("--data-dir", "KDBENCH_DATA_DIR"),
                             ("--cache-dir", "KDBENCH_CACHE_DIR")):
        assert f"default: ${variable}" in options[option]
    with pytest.raises(SystemExit):
        main(["leaderboard", "--help"])
    assert "(default: KDBENCH_RESULTS" in option_help(capsys.readouterr().out)["--results"]
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "kdbench: run knowledge-distillation benchmark tracks" in out and "``" not in out


def test_show_prints_each_builtin_track_as_a_track_that_validates_to_the_same(capsys) -> None:
    from kdbench.builtin import TRACKS_DIR
    from kdbench.specfile import load_track_file
    from kdbench.specs import TrackSpec

    for path in sorted(TRACKS_DIR.glob("*.yaml")):
        assert main(["show", str(path)]) == 0
        shown = yaml.safe_load(capsys.readouterr().out)
        assert shown.pop("file") == str(path)
        assert set(shown.pop("resolved")) == set(shown.get("budgets", ["full"]))
        assert TrackSpec.model_validate(shown) == load_track_file(path)[0], path.name


def test_show_of_a_model_name_points_at_show_model(capsys) -> None:
    assert main(["show", "wrn-16-2"]) == 2
    assert "'wrn-16-2' is a model: kdbench show model wrn-16-2" in capsys.readouterr().err
