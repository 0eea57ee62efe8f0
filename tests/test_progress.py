"""Progress on a terminal: bars for runs and epochs, including ensembles and resumed runs."""

from __future__ import annotations

import io

from rich.console import Console

from kdbench.progress import Progress


def terminal() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=100)


def test_epoch_bars_fill_close_and_survive_extra_calls() -> None:
    with Progress(2, console=terminal()) as progress:
        ensemble = progress.epochs("teacher, ensemble of 2", 4)
        for epoch in range(2):  # the first member
            ensemble(epoch, {})
        assert progress.shown == ["teacher, ensemble of 2"]
        for epoch in range(2):  # the second one fills the bar, which goes away
            ensemble(epoch, {})
        assert progress.shown == []
        ensemble(0, {})  # a call after the bar closed does nothing
        assert progress.shown == []
        resumed = progress.epochs("student, resumed at epoch 3", 5)
        resumed(3, {})
        resumed(4, {})
        assert progress.shown == ["student, resumed at epoch 3"]  # 2 of 5 epochs: not full
        progress.done("run 1")
        assert progress.shown == [] and progress.finished == 1
        progress.done("run 2")
    assert "[2/2] run 2" in progress.console.file.getvalue()


def test_plain_lines_when_not_a_terminal(capsys) -> None:
    with Progress(1, live=False) as progress:
        progress.epochs("student", 3)(0, {})
        progress.done("ce: mlp, seed 0")
    assert capsys.readouterr().err == "[1/1] ce: mlp, seed 0\n"
