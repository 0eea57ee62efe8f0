"""Leaderboard rendering: deterministic bytes, --check, boards and reference rows."""

from __future__ import annotations

import shutil

import pytest

from kdbench.cli import main


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> object:
    """Results of the tiny track at smoke budget with two seeds (made once for this module)."""
    import yaml

    from tests.conftest import TINY_TRACK

    root = tmp_path_factory.mktemp("board")
    track = yaml.safe_load(yaml.safe_dump(TINY_TRACK))
    track["budgets"]["smoke"]["seeds"] = [0, 1]
    spec = root / "tiny.yaml"
    spec.write_text(yaml.safe_dump(track))
    assert main(["run", "--spec", str(spec), "--budget", "smoke", "--results", str(root / "results"),
                 "--cache-dir", str(root / "cache")]) == 0
    return root


def board(*args: str) -> int:
    return main(["leaderboard", *args])


def test_render_is_deterministic_and_check_detects_staleness(finished, tmp_path, capsys) -> None:
    results = tmp_path / "results"
    shutil.copytree(finished / "results", results)
    out = tmp_path / "board"
    assert board("--results", str(results), "--out", str(out)) == 0
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {"README.md", "tiny.md", "tiny.smoke.capacity.png", "tiny.smoke.fidelity.png",
            "quickstart.md"} <= set(first)
    assert first["tiny.smoke.capacity.png"].startswith(b"\x89PNG")
    shutil.rmtree(out)
    assert board("--results", str(results), "--out", str(out)) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
    assert board("--results", str(results), "--out", str(out), "--check") == 0

    (out / "tiny.md").write_text("edited by hand\n")
    assert board("--results", str(results), "--out", str(out), "--check") == 1
    assert "stale" in capsys.readouterr().err
    assert board("--results", str(results), "--out", str(out)) == 0
    one = next(results.rglob("*.json"))
    one.unlink()
    assert board("--results", str(results), "--out", str(out), "--check") == 1


def test_track_page_has_both_boards_with_mean_std_and_paired_delta(finished, tmp_path) -> None:
    out = tmp_path / "board"
    assert board("--results", str(finished / "results"), "--out", str(out)) == 0
    page = (out / "tiny.md").read_text()
    assert page.splitlines()[2] == "# tiny"  # a track file that no plugin installs: its name
    assert "## Budget `smoke`" in page and "2 seed(s), 10 finished runs" in page
    assert "### Accuracy" in page and "### Fidelity" in page
    kd_row = next(line for line in page.splitlines() if line.startswith("| mlp-16") and "| kd " in line)
    assert " ± " in kd_row and kd_row.rstrip().endswith("|   2 |")
    assert "[" in kd_row  # the paired difference to CE has a 95% interval with two seeds
    assert "![tiny.smoke.capacity.png](tiny.smoke.capacity.png)" in page
    index = (out / "README.md").read_text()
    assert "[tiny](tiny.md)" in index


def test_tracks_without_results_show_protocol_references_and_command(tmp_path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    assert board("--results", str(results), "--out", str(tmp_path / "board")) == 0
    page = (tmp_path / "board" / "quickstart.md").read_text()
    assert "## Protocol" in page and "| teacher | lenet5-w4" in page
    assert "No results yet. Run `kdbench run --track quickstart" in page
    index = (tmp_path / "board" / "README.md").read_text()
    assert "| [quickstart](quickstart.md)" in index and "no results yet" in index


def test_reference_rows_are_labelled_with_their_source(finished, tmp_path) -> None:
    from kdbench.leaderboard import track_files
    from kdbench.results import ResultStore
    from kdbench.specs import TrackSpec
    from tests.conftest import TINY_TRACK

    page = track_files("tiny", ResultStore(finished / "results").scan(),
                       TrackSpec.model_validate(TINY_TRACK))["tiny.md"]
    assert "## Reference results from the papers" in page
    assert "not produced by kdbench" in page
    assert "| Made up for tests (U)" in page and "test.student_acc 90" in page


def test_missing_results_directory_is_a_user_error(tmp_path, capsys) -> None:
    assert board("--results", str(tmp_path / "none"), "--out", str(tmp_path)) == 2
    assert "results directory not found" in capsys.readouterr().err
