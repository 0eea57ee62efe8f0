"""A board shows only results that belong to it: forged, misplaced and stale files are left off and
named, nothing is written outside the output folder, ``kdbench verify`` reproduces every number from
the kept weights, and a run made by other plugin code is not reused unless asked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from kdbench.cli import main
from kdbench.plugins import reset_plugin_manager


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """The tiny track at smoke with two seeds, run once for this module."""
    from tests.conftest import TINY_TRACK

    root = tmp_path_factory.mktemp("integrity")
    track = yaml.safe_load(yaml.safe_dump(TINY_TRACK))
    track["budgets"]["smoke"]["seeds"] = [0, 1]
    (root / "tiny.yaml").write_text(yaml.safe_dump(track))
    assert main(["run", "--spec", str(root / "tiny.yaml"), "--budget", "smoke", "--results",
                 str(root / "results"), "--cache-dir", str(root / "cache")]) == 0
    return root


@pytest.fixture
def work(made, tmp_path, monkeypatch) -> Path:
    """A copy of the made results, track file and cache, as the working folder."""
    for name in ("results", "cache"):
        shutil.copytree(made / name, tmp_path / name)
    shutil.copy(made / "tiny.yaml", tmp_path / "tiny.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KDBENCH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def result_files(root: Path) -> list[Path]:
    return sorted((root / "results").rglob("*.json"))


def kd_result(root: Path) -> tuple[Path, dict]:
    for path in result_files(root):
        data = json.loads(path.read_text())
        if data["spec"]["method_label"] == "kd":
            return path, data
    raise AssertionError("no kd result")


def board(capsys) -> tuple[int, str, str]:
    code = main(["leaderboard", "--spec", "tiny.yaml"])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_forged_track_name_cannot_write_outside_the_board(work, capsys) -> None:
    (work / "README.md").write_text("the project's own readme\n")
    path, data = kd_result(work)
    data["spec"]["track"] = "../README"
    forged = work / "results" / ".." / "full" / "0123456789abcdef.json"
    forged.parent.mkdir(parents=True, exist_ok=True)
    forged.write_text(json.dumps(data))
    (work / "results" / "x" / "full").mkdir(parents=True)
    shutil.copy(forged, work / "results" / "x" / "full" / "0123456789abcdef.json")
    code, _, err = board(capsys)
    assert code == 0 and (work / "README.md").read_text() == "the project's own readme\n"
    assert "x/full/0123456789abcdef.json" in err and "left off" in err and "Traceback" not in err


def test_injected_and_inconsistent_results_never_reach_the_board(work, capsys) -> None:
    path, data = kd_result(work)
    injected = dict(data, run_id="not-a-digest")
    (path.parent / "not-a-digest.json").write_text(json.dumps(injected))
    data["metrics"]["test"]["agreement"] = 99.95
    path.write_text(json.dumps(data))
    code, _, err = board(capsys)
    assert code == 0 and err.count("left off") == 2
    page = (work / "results" / "tiny.md").read_text()
    assert "99.95" not in page


def test_results_of_an_edited_track_are_stale_and_left_off(work, capsys) -> None:
    track = yaml.safe_load((work / "tiny.yaml").read_text())
    track["student_recipe"]["lr"] = 0.2
    (work / "tiny.yaml").write_text(yaml.safe_dump(track))
    assert board(capsys)[0] == 0
    page = (work / "results" / "tiny.md").read_text()
    assert ("10 result file(s) of this budget are not in the track's current expansion and are left "
            "off: 10 of another protocol") in page
    assert "### Accuracy" not in page and "No results yet" in page


def test_a_partly_finished_budget_is_flagged(work, capsys) -> None:
    kd_result(work)[0].unlink()
    assert board(capsys)[0] == 0
    page = (work / "results" / "tiny.md").read_text()
    assert "9 finished runs of 10 (PARTIAL" in page
    assert "9 of 10 (partial)" in (work / "results" / "README.md").read_text()


@pytest.mark.slow
def test_verify_reproduces_every_number_and_catches_an_edit(work, capsys) -> None:
    assert main(["verify"]) == 0
    out = capsys.readouterr().out
    assert "10 verified, 0 failed" in out and out.count("every metric of both splits holds") == 10
    path, data = kd_result(work)
    data["metrics"]["test"]["student_acc"] += 1.0  # a plausible, self-consistent edit
    path.write_text(json.dumps(data))
    code, _, err = board(capsys)
    assert code == 0 and "left off" not in err  # the edit is consistent: only verify can see it
    assert main(["verify", "--sample", "10"]) == 1
    assert f"FAILED {path.relative_to(work)}: test student_acc" in capsys.readouterr().out


def test_verify_refuses_altered_student_weights(work, capsys) -> None:
    path, data = kd_result(work)
    weights = path.with_suffix(".safetensors")
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    assert main(["verify", "--track", "tiny"]) == 1
    assert "does not match the result's student_sha256" in capsys.readouterr().out


@pytest.mark.slow
def test_a_changed_plugin_version_is_not_reused_unless_asked(work, capsys, monkeypatch) -> None:
    import kdbench.builtin

    before = set(result_files(work))
    monkeypatch.setattr(kdbench.builtin, "BUILTIN_VERSION", "2")
    reset_plugin_manager()
    args = ["run", "--spec", "tiny.yaml", "--budget", "smoke", "--results", "results"]
    assert main([*args, "--reuse-stale"]) == 0
    out, err = capsys.readouterr()
    assert err.count("reused STALE result") == 10 and "kdbench:kd@1" in err and "kdbench:kd@2" in err
    assert set(result_files(work)) == before
    assert "left off: 10 made by other plugin code" in out and "| kd " not in out
    assert main(args) == 0
    err = capsys.readouterr().err
    assert err.count("again: its result was made by other code") == 10
    assert len(set(result_files(work)) - before) == 10
    assert board(capsys)[0] == 0  # the board shows the new results, the old ones as stale
    assert "left off: 10 made by other plugin code" in (work / "results" / "tiny.md").read_text()


def test_provenance_names_the_code_and_the_machine(work) -> None:
    _, data = kd_result(work)
    provenance = data["provenance"]
    assert provenance["distributions"]["kdbench"]
    assert provenance["cpu"]["model"] and isinstance(provenance["cpu"]["isa"], list)
    assert provenance["torch_threads"] >= 1 and "deterministic_algorithms" in provenance["determinism"]
    assert {"kdbench:kd@1", "kdbench:mlp@1", "kdbench:digits@1"} <= set(data["spec"]["code"])


@pytest.mark.slow
def test_teachers_copied_by_verify_verify_published_results_without_a_cache(work, capsys,
                                                                           monkeypatch) -> None:
    assert main(["verify", "--copy-teachers", "shipped"]) == 0
    assert [p.name for p in (work / "shipped").rglob("*.safetensors")].count("model.safetensors") == 4
    shutil.rmtree(work / "cache" / "teachers")
    capsys.readouterr()
    assert main(["verify"]) == 1  # fidelity metrics that cannot be checked fail
    out = capsys.readouterr().out
    assert out.count("the teacher's weights were not found") == 8 and "8 failed" in out
    assert main(["verify", "--allow-missing-teachers"]) == 0
    assert "10 verified, 0 failed" in capsys.readouterr().out
    assert main(["verify", "--teachers", "shipped"]) == 0
    assert capsys.readouterr().out.count("every metric of both splits holds") == 10


def test_verify_checks_the_training_split_too(work, capsys) -> None:
    path, data = kd_result(work)
    data["metrics"]["train"]["student_acc"] = min(100.0, data["metrics"]["train"]["student_acc"] + 5)
    path.write_text(json.dumps(data))
    assert main(["verify"]) == 1
    assert "train student_acc is" in capsys.readouterr().out


def test_provenance_text_cannot_put_markup_on_a_page(work, capsys) -> None:
    for path in result_files(work):
        data = json.loads(path.read_text())
        data["provenance"]["cpu"]["model"] = "EVIL | x |\n\n# HACKED <script>alert(1)</script> [x](http://e)"
        data["provenance"]["torch"] = "2.0 | `injected`"
        path.write_text(json.dumps(data))
    assert board(capsys)[0] == 0
    page = (work / "results" / "tiny.md").read_text()
    made_on = next(line for line in page.splitlines() if line.startswith("Made on: "))
    assert "EVIL x" in made_on and "HACKED script" in made_on
    assert not any(mark in made_on.removeprefix("Made on: ").split(". Runs are")[0]
                   for mark in "|#<>[]`\n")
    assert "# HACKED" not in page and "<script>" not in page


@pytest.mark.slow
def test_the_newest_stale_result_is_the_one_reused(work, capsys, monkeypatch) -> None:
    import kdbench.builtin

    args = ["run", "--spec", "tiny.yaml", "--budget", "smoke", "--results", "results"]
    monkeypatch.setattr(kdbench.builtin, "BUILTIN_VERSION", "2")
    reset_plugin_manager()
    assert main(args) == 0  # made by version 2, dated after the version-1 results
    monkeypatch.setattr(kdbench.builtin, "BUILTIN_VERSION", "3")
    reset_plugin_manager()
    capsys.readouterr()
    assert main([*args, "--reuse-stale"]) == 0
    err = capsys.readouterr().err
    assert err.count("kdbench:kd@2") >= 1 and "kdbench:kd@1" not in err


def test_results_of_a_track_whose_plugin_broke_stop_the_board(work, capsys, install) -> None:
    (work / "results" / "tiny.md").write_text("the page as it was\n")
    install("kdbench-broken", {"kdbench_broken": "import no_such_module\n"}, {"broken": "kdbench_broken"})
    assert main(["leaderboard"]) == 2
    err = capsys.readouterr().err
    assert "results of track 'tiny', which no loaded plugin provides, while plugin 'broken'" in err
    assert (work / "results" / "tiny.md").read_text() == "the page as it was\n"


def test_verify_fails_a_result_without_its_student_weights(work, capsys) -> None:
    path, _ = kd_result(work)
    path.with_suffix(".safetensors").unlink()
    assert main(["verify"]) == 1
    assert f"no student weights: {path.with_suffix('.safetensors').name} is not beside it" in (
        capsys.readouterr().out)
