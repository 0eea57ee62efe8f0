"""Leaderboard rendering: deterministic bytes, --check, boards and reference rows."""

from __future__ import annotations

import shutil
from pathlib import Path

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
    track["budgets"]["quick"] = {**track["budgets"]["smoke"], "seeds": [0]}
    spec = root / "tiny.yaml"
    spec.write_text(yaml.safe_dump(track))
    for budget in ("smoke", "quick"):
        assert main(["run", "--spec", str(spec), "--budget", budget, "--results",
                     str(root / "results"), "--cache-dir", str(root / "cache")]) == 0
    return root


def board(*args: str) -> int:
    """``kdbench leaderboard`` with the tiny track's file (not installed by any plugin)."""
    track = Path(args[args.index("--results") + 1]).parent / "tiny.yaml"
    extra = ["--spec", str(track)] if track.exists() else []
    return main(["leaderboard", *args, *extra])


@pytest.mark.slow
def test_render_is_deterministic_and_check_detects_staleness(finished, tmp_path, capsys) -> None:
    results = tmp_path / "results"
    shutil.copytree(finished / "results", results)
    shutil.copy(finished / "tiny.yaml", tmp_path / "tiny.yaml")
    out = tmp_path / "board"
    assert board("--results", str(results), "--out", str(out)) == 0
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {"README.md", "tiny.md", "tiny.smoke.capacity.png", "tiny.smoke.fidelity.png"} <= set(first)
    assert "quickstart.md" not in first  # a user's board shows the tracks they ran
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
    assert page.splitlines()[2] == "# Tiny digits track for tests"
    assert "## Budget `smoke`" in page and "2 seed(s), 10 finished runs" in page
    assert "checks the pipeline" in page and "Made on: " in page
    assert "### Accuracy" in page and "### Fidelity" in page
    smoke = page[page.index("## Budget `smoke`"):]
    kd_row = next(line for line in smoke.splitlines() if line.startswith("| mlp-16") and "| kd " in line)
    assert " ± " in kd_row and kd_row.rstrip().endswith("|   2 |")
    assert "[" in kd_row  # the paired difference to CE has a 95% interval with two seeds
    assert "![tiny.smoke.capacity.png](tiny.smoke.capacity.png)" in page
    quick = page[page.index("## Budget `quick`"):page.index("## Budget `smoke`")]
    kd_quick = next(line for line in quick.splitlines() if line.startswith("| mlp-16") and "| kd " in line)
    assert " ± " not in kd_quick and kd_quick.rstrip().endswith("|   1 |")  # n = 1: no spread
    index = (out / "README.md").read_text()
    smoke = next(line for line in index.splitlines() if "| smoke " in line)
    assert "[tiny](tiny.md)" in index and "pipeline check, not a result" in smoke


def test_leaderboard_renders_what_run_wrote_by_default(finished, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(finished / "results", tmp_path / "results")
    assert main(["leaderboard", "--spec", str(finished / "tiny.yaml")]) == 0
    assert (tmp_path / "results" / "tiny.md").exists() and (tmp_path / "results" / "README.md").exists()
    assert not (tmp_path / "leaderboard").exists()


def test_tracks_without_results_show_protocol_references_and_command(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "leaderboard" / "results").mkdir(parents=True)
    assert main(["leaderboard", "--published"]) == 0
    page = (tmp_path / "leaderboard" / "quickstart.md").read_text()
    assert "## Protocol" in page and "| teacher | lenet5-w4" in page
    assert "No results yet. Run `kdbench run --track quickstart" in page
    index = (tmp_path / "leaderboard" / "README.md").read_text()
    assert "| [quickstart](quickstart.md)" in index and "no results yet" in index


def test_reference_rows_are_labelled_with_their_source(finished, tmp_path) -> None:
    from kdbench.leaderboard import Page, track_files
    from kdbench.results import ResultStore
    from kdbench.specs import TrackSpec
    from tests.conftest import TINY_TRACK

    page = track_files(Page("tiny", TrackSpec.model_validate(TINY_TRACK),
                            ResultStore(finished / "results").scan().results))["tiny.md"]
    assert "## Reference results from the papers" in page
    assert "not produced by kdbench" in page
    assert "| Made up for tests (U)" in page and "test.student_acc 90" in page


def test_missing_results_directory_is_a_user_error(tmp_path, capsys) -> None:
    assert board("--results", str(tmp_path / "none"), "--out", str(tmp_path)) == 2
    assert "results directory not found" in capsys.readouterr().err
