"""Per-epoch progress of SLURM jobs: each job appends JSON events to its file, the driver tails the
folder into its view; lines still being written wait, lines that are not events are skipped."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kdbench.execution.eventfile import FileReporter, Tail, events_path
from kdbench.execution.events import Bar, Epoch, Event, Said


def test_the_driver_sees_each_job_s_bars_epochs_and_lines_once(tmp_path) -> None:
    seen: list[Event] = []
    tail = Tail(tmp_path)
    report = FileReporter(tmp_path, "run:abc")
    advance = report.epochs("kd: mlp-64 -> mlp-16, seed 0", 2)
    advance(0, {})
    tail.poll(seen.append)
    advance(1, {})
    report.say("done")
    tail.poll(seen.append)
    tail.poll(seen.append)
    bar = seen[0].bar  # type: ignore[union-attr]
    assert seen == [Bar("run:abc", bar, "kd: mlp-64 -> mlp-16, seed 0", 2), Epoch(bar, 0), Epoch(bar, 1),
                    Said("done")]


def test_a_line_still_being_written_waits_and_a_line_that_is_no_event_is_skipped(tmp_path, caplog) -> None:
    seen: list[Event] = []
    tail = Tail(tmp_path)
    path = events_path(tmp_path, "teacher:t1")
    path.write_text('{"kind": "said", "line": "one"}\n{"kind": "said", "li')
    tail.poll(seen.append)
    assert seen == [Said("one")]
    with path.open("a") as handle:
        handle.write('ne": "two"}\n{"kind": "epoch", "bar": "x", "epoch": "7"}\n[1]\n{"kind": "exec"}\n')
    with caplog.at_level(logging.WARNING, logger="kdbench"):
        tail.poll(seen.append)
    assert seen == [Said("one"), Said("two")]
    assert len([r for r in caplog.records if "not a progress event" in r.getMessage()]) == 3


def test_a_job_key_becomes_a_plain_file_name_inside_the_folder(tmp_path) -> None:
    assert events_path(tmp_path, "run:../../x y").parent == tmp_path
    assert events_path(tmp_path, "run:../../x y").name == "run-..-..-x-y.jsonl"


@pytest.mark.slow
def test_submitit_jobs_show_every_epoch_on_the_driver(tiny_track, write_track, tmp_path) -> None:
    pytest.importorskip("submitit", reason='the slurm executor needs pip install "kdbench[slurm]"')
    from kdbench.api import prepare
    from kdbench.execution.events import View
    from kdbench.execution.executors import SlurmParams
    from kdbench.execution.slurm import SlurmExecutor
    from kdbench.progress import Progress

    tiny_track["teachers"] = tiny_track["teachers"][:1]
    tiny_track["methods"] = [{"name": "kd"}]
    sweep = prepare(write_track(tiny_track), "smoke", results=tmp_path / "r", cache=tmp_path / "c")
    seen: list[Event] = []

    class Recording(View):
        def apply(self, event: Event) -> None:
            seen.append(event)

    executor = SlurmExecutor(SlurmParams(cluster="local", folder=str(tmp_path / "submitit")))
    plan = sweep.plan()
    outcomes = list(executor.run(plan.jobs, sweep.context, Recording(Progress(1, live=False))))
    assert len(outcomes) == 2 and outcomes[1].result is not None and outcomes[1].result.ok
    bars = {event.owner: event for event in seen if isinstance(event, Bar)}
    assert set(bars) == {job.key for job in plan.jobs}
    for owner, bar in bars.items():
        epochs = [event.epoch for event in seen if isinstance(event, Epoch) and event.bar == bar.bar]
        assert epochs == list(range(bar.total)), owner
    assert list(Path(tmp_path / "submitit" / "events").iterdir()) == []
