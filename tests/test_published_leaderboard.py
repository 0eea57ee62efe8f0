"""The published leaderboard in this repository is exactly what its result files render to
(``kdbench leaderboard --check``), and every number in it comes from a result file."""

from __future__ import annotations

from pathlib import Path

from kdbench.cli import main
from kdbench.results import ResultStore

LEADERBOARD = Path(__file__).parents[1] / "leaderboard"


def test_published_pages_are_current(capsys) -> None:
    assert main(["leaderboard", "--check", "--results", str(LEADERBOARD / "results"),
                 "--out", str(LEADERBOARD)]) == 0, capsys.readouterr().err


def test_published_results_are_finished_runs_with_provenance() -> None:
    results = ResultStore(LEADERBOARD / "results").scan()
    assert {r.spec.track for r in results} >= {"quickstart", "capacity-gap-fashion",
                                               "fidelity-mnist-5k"}
    for result in results:
        assert result.ok and result.run_id == result.spec.run_id
        assert result.provenance["torch"] and result.provenance["date"]
        assert result.spec.budget == "full"
