"""The smaller commands: list, show, schema, version, help."""

from __future__ import annotations

import json

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
    assert smoke["runs"] == 7 and smoke["seeds"] == [0]
    assert smoke["student_recipe"]["epochs"] == 2 and smoke["methods"]["eskd"]["stop_epoch"] == 1
    assert shown["resolved"]["full"]["runs"] == 14


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
