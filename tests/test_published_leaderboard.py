"""The published leaderboard in this repository is exactly what its result files render to
(``kdbench leaderboard --published --check``), every result file passes its checks and belongs to
its track, and every number in it is reproduced from the shipped weights (``kdbench verify``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kdbench.cli import main
from kdbench.results import ResultStore

ROOT = Path(__file__).parents[1]
LEADERBOARD = ROOT / "leaderboard"


@pytest.fixture
def in_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_published_pages_are_current(in_repository, capsys) -> None:
    assert main(["leaderboard", "--published", "--check"]) == 0, capsys.readouterr().err
    assert "left off" not in capsys.readouterr().err


def test_published_results_are_finished_runs_with_provenance() -> None:
    scan = ResultStore(LEADERBOARD / "results").scan()
    assert not scan.rejected
    assert {r.spec.track for r in scan.results} >= {"quickstart", "fidelity-mnist-5k"}
    for result in scan.results:
        assert result.ok and result.spec.budget == "full"
        assert result.provenance["torch"] and result.provenance["date"]
        assert result.provenance["cpu"]["model"] and result.provenance["distributions"]
        weights = (LEADERBOARD / "results" / result.spec.track / "full" / f"{result.run_id}.safetensors")
        assert weights.is_file(), f"{weights.name}: the published student weights are missing"


@pytest.mark.slow
def test_published_numbers_are_reproduced_from_the_shipped_weights(in_repository, capsys) -> None:
    assert main(["verify", "--published"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "0 failed" in out and " verified" in out
