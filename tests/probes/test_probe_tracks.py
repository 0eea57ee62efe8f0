"""Tracks with probes: validated at load, probed after the sweep from the kept weights, shown on
boards with their contrasts, checked by ``kdbench verify``; records that fail checks are refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from kdbench.cli import main

PROBES = [{"label": "rot", "name": "invariance", "params": {"transform": "rotation", "degrees": 180}},
          {"label": "fgsm", "name": "adversarial-transfer", "params": {"attack": "fgsm", "eps": 0.2}},
          {"name": "error-agreement"}]


@pytest.fixture
def probed_track(tiny_track: dict) -> dict:
    """The tiny digits track with one teacher, ce and kd, two smoke seeds and three probes."""
    tiny_track["teachers"] = tiny_track["teachers"][:1]
    tiny_track["methods"] = [{"name": "ce"}, {"name": "kd"}]
    tiny_track["references"] = []
    tiny_track["budgets"]["smoke"]["seeds"] = [0, 1]
    tiny_track["probes"] = copy.deepcopy(PROBES)
    tiny_track["contrasts"] = [{"name": "kd-rotation", "kind": "difference", "metric": "test.rot.student",
                                "a": {"method": "kd"}, "b": {"method": "ce"}}]
    return tiny_track


def records(root: Path) -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text()) for path in root.rglob("probes/*.json")}


def test_runs_are_probed_once_shown_and_verified(probed_track, write_track, tmp_path: Path, capsys) -> None:
    path, results = write_track(probed_track), tmp_path / "r"
    run = ["run", "--spec", str(path), "--budget", "smoke", "--results", str(results), "--device", "cpu"]
    assert main(run) == 0
    captured = capsys.readouterr()
    assert captured.err.count("probed ") == 4 and "### Properties" in captured.out
    found = records(results)
    specs = {run_id: json.loads(p.read_text())["spec"] for run_id, p in
             ((p.stem, p) for p in results.rglob("smoke/*.json"))}
    assert set(found) == set(specs)
    ce = {specs[i]["seed"]: i for i in specs if specs[i]["method"]["name"] == "ce"}
    for run_id, record in found.items():
        seed, method = specs[run_id]["seed"], specs[run_id]["method"]["name"]
        # a distilled student is compared with the ce student of its seed; ce with the other seed's
        assert record["reference_run_id"] == (ce[1 - seed] if method == "ce" else ce[seed])
        assert set(record["values"]["test"]) == {"rot.student", "rot.teacher", "rot.student_acc",
                                                 "rot.teacher_acc", "fgsm.student", "fgsm.teacher",
                                                 "error-agreement.student", "error-agreement.teacher_errors"}
    assert main(run) == 0
    assert "probed " not in capsys.readouterr().err  # the records still answer the track

    assert main(["leaderboard", "--results", str(results), "--spec", str(path)]) == 0
    page = (results / "tiny.md").read_text()
    assert "**rot** (invariance(degrees=180, transform=rotation))" in page
    assert "| kd-rotation | test.rot.student |" in page
    assert (results / "tiny.smoke.properties.png").is_file()

    assert main(["verify", "--results", str(results)]) == 0
    assert capsys.readouterr().out.count("and so do its probe values") == 4
    record_path = next(results.rglob("probes/*.json"))
    record = json.loads(record_path.read_text())
    record["values"]["test"]["rot.student"] = 100.0 - record["values"]["test"]["rot.student"] / 2 - 10
    record_path.write_text(json.dumps(record))
    assert main(["verify", "--results", str(results)]) == 1
    assert "probe test rot.student is" in capsys.readouterr().out


def test_a_record_that_fails_its_checks_is_left_off_the_board(probed_track, write_track, tmp_path: Path,
                                                              capsys) -> None:
    probed_track["budgets"]["smoke"]["seeds"] = [0]
    path, results = write_track(probed_track), tmp_path / "r"
    assert main(["run", "--spec", str(path), "--budget", "smoke", "--results", str(results)]) == 0
    record_path = next(results.rglob("probes/*.json"))
    record = json.loads(record_path.read_text())
    record["values"]["test"]["rot.student"] = 150.0
    record_path.write_text(json.dumps(record))
    capsys.readouterr()
    assert main(["leaderboard", "--results", str(results), "--spec", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"{record_path}: values.test.rot.student: 150.0 is not a percentage in [0, 100]; left off" in err
    assert "150.00" not in (results / "tiny.md").read_text()


@pytest.mark.parametrize("change, message", [
    (lambda t: t.update(methods=[{"name": "kd"}], contrasts=[]),
     "): probes compare with the student trained without a teacher: the track needs exactly one ce "
     "method, it has 0"),
    (lambda t: t["probes"].append({"name": "invarance"}), "probes.3.name (line"),
    (lambda t: t["probes"][0]["params"].update(transform="blur"), "probes.0.params.transform (line"),
    (lambda t: t["probes"].append({"label": "rot", "name": "error-agreement"}),
     "probes.3.label (line 64): probe label 'rot' is used twice"),
    (lambda t: t["contrasts"][0].update(metric="test.rotation.student"),
     "contrasts.0.metric (line 67): 'test.rotation.student': no probe labelled 'rotation'"),
    (lambda t: t["contrasts"][0].update(metric="test.rot.students"),
     "contrasts.0.metric (line 67): probe 'rot' has no value 'students' (it has: student, teacher, "
     "student_acc, teacher_acc)"),
    (lambda t: t["contrasts"][0].update(metric="train.rot.student"),
     "contrasts.0.metric (line 67): probe 'rot' runs on test, not train"),
    (lambda t: t["teachers"].append({"label": "mlp-128", "model": {"name": "mlp"}}),
     "student 'mlp-16' has 2 teachers; a track with probes pairs each student with one teacher"),
])
def test_track_probes_are_validated_in_one_line_each(probed_track, write_track, capsys, change,
                                                     message) -> None:
    change(probed_track)
    assert main(["validate", str(write_track(probed_track))]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_schema_spells_out_probe_params(capsys) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    invariance = schema["$defs"]["Probe_invariance"]
    assert invariance["properties"]["name"]["const"] == "invariance"
    assert "InvarianceParams" in json.dumps(invariance["properties"]["params"])
    assert "transform" in schema["$defs"]["InvarianceParams"]["properties"]


def test_a_probe_that_fails_costs_its_values_not_the_sweep(probed_track, write_track, tmp_path: Path,
                                                            capsys) -> None:
    # colouring 1-channel digits gives 3-channel images, which the digits' MLPs cannot take
    probed_track["probes"] = [{"name": "invariance", "params": {"transform": "colour"}}]
    probed_track["contrasts"] = []
    probed_track["budgets"]["smoke"]["seeds"] = [0]
    results = tmp_path / "r"
    assert main(["run", "--spec", str(write_track(probed_track)), "--budget", "smoke", "--results",
                 str(results)]) == 0
    err = capsys.readouterr().err
    assert err.count("is not probed: RuntimeError: ") == 2 and "Traceback" not in err
    assert not records(results)
