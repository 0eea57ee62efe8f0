"""Training loggers: the built-in ``tensorboard`` and ``csv`` loggers read back from their files
after a real ``kdbench run``, a third-party logger plugin fed by one, resumed runs, and loggers
that fail or cannot work, which never stop a run."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from kdbench.cli import main
from kdbench.loggers import EpochRecord, LoggedRun, Logger
from kdbench.loggers.csv import CSVLogger
from kdbench.loggers.group import Chosen, LoggerGroup
from kdbench.loggers.tensorboard import TensorBoardLogger
from kdbench.plugins import Registered
from kdbench.types import LoggerInfo, NoParams

ENTRY = {"epoch": 3, "lr": 0.05, "teacher": True, "loss": {"ce": 0.5, "kd": 0.25}, "images": 300,
         "seconds": 0.5, "test_acc": 91.0}

RECORDER = """
    import json
    from kdbench import LoggerInfo, hookimpl

    class Recorder:
        def __init__(self, params, run):
            self.run, self.lines = run, []

        def log_epoch(self, epoch, record):
            self.lines.append({"epoch": epoch, "kind": self.run.kind, "seed": self.run.config["seed"],
                               "loss": dict(record.loss), "lr": record.lr,
                               "test_acc": record.test_acc, "images_per_s": record.images_per_s})

        def close(self):
            self.run.log_dir.mkdir(parents=True, exist_ok=True)
            (self.run.log_dir / "epochs.json").write_text(json.dumps(self.lines))

    @hookimpl
    def kdbench_loggers():
        return [LoggerInfo("recorder", "every epoch into epochs.json, written on close", Recorder)]
"""

FAILING = """
    from kdbench import LoggerInfo, hookimpl

    class Failing:
        def __init__(self, params, run):
            pass

        def log_epoch(self, epoch, record):
            raise OSError("disk full")

        def close(self):
            raise AssertionError("close of a dropped logger must not be reported")

    @hookimpl
    def kdbench_loggers():
        return [LoggerInfo("failing", "raises on every epoch", Failing)]
"""


@pytest.fixture
def track(tiny_track: dict, write_track) -> Path:
    """The tiny track cut to one teacher and KD: one teacher member and one student run."""
    tiny_track["teachers"] = tiny_track["teachers"][:1]
    tiny_track["methods"] = [{"name": "kd"}]
    return write_track(tiny_track)


@pytest.fixture
def run(tmp_path: Path, track: Path, capsys):
    """``kdbench run`` of ``track`` at the smoke budget with more arguments: (code, stderr)."""
    def run(*args: str) -> tuple[int, str]:
        code = main(["run", "--spec", str(track), "--budget", "smoke", "--results",
                     str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"),
                     "--log-dir", str(tmp_path / "runs"), *args])
        return code, capsys.readouterr().err
    return run


def only_result(tmp_path: Path) -> dict:
    [path] = (tmp_path / "results").rglob("*.json")
    return json.loads(path.read_text())


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the TensorBoard event files of ``folder``: tag -> [(step, value)]."""
    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_epoch_record_from_a_history_entry() -> None:
    record = EpochRecord.from_history(ENTRY)
    assert record == EpochRecord(epoch=3, lr=0.05, loss={"ce": 0.5, "kd": 0.25}, images_per_s=600.0,
                                 test_acc=91.0)
    assert record.scalars() == {"loss/ce": 0.5, "loss/kd": 0.25, "lr": 0.05, "test/acc": 91.0,
                                "throughput/images_per_s": 600.0}
    unevaluated = EpochRecord.from_history({**ENTRY, "test_acc": None})
    assert "test/acc" not in unevaluated.scalars()
    assert "test/acc" not in EpochRecord.from_history({k: v for k, v in ENTRY.items() if k != "test_acc"}
                                                      ).scalars()


def test_tensorboard_and_csv_log_every_network_of_a_run(tmp_path: Path, run) -> None:
    code, err = run("--log", "tensorboard", "--log", "csv")
    assert code == 0, err
    result = only_result(tmp_path)
    history = result["history"]
    student = tmp_path / "runs" / "tiny" / "smoke" / result["run_id"]
    logged = scalars(student)
    assert set(logged) == {"loss/ce", "loss/kd", "lr", "test/acc", "throughput/images_per_s"}
    assert [step for step, _ in logged["loss/kd"]] == [0, 1]
    for tag, key in (("lr", "lr"), ("test/acc", "test_acc")):
        assert [value for _, value in logged[tag]] == pytest.approx([e[key] for e in history])
    assert [value for _, value in logged["loss/kd"]] == pytest.approx(
        [e["loss"]["kd"] for e in history], rel=1e-6)
    assert [value for _, value in logged["throughput/images_per_s"]] == pytest.approx(
        [e["images"] / e["seconds"] for e in history], rel=1e-6)

    rows = read_csv(student / "metrics.csv")
    assert list(rows[0]) == ["epoch", "loss/ce", "loss/kd", "lr", "test/acc", "throughput/images_per_s"]
    assert [int(row["epoch"]) for row in rows] == [0, 1]
    assert [float(row["loss/ce"]) for row in rows] == [e["loss"]["ce"] for e in history]
    assert [float(row["test/acc"]) for row in rows] == [e["test_acc"] for e in history]

    [teacher] = (tmp_path / "runs" / "teachers").iterdir()
    assert set(scalars(teacher)) == {"loss/ce", "lr", "test/acc", "throughput/images_per_s"}
    assert [int(row["epoch"]) for row in read_csv(teacher / "metrics.csv")] == [0]  # smoke: 1 epoch


def test_the_help_of_run_states_the_logger_options(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--log LOGGER" in text and "repeatable" in text and "(default: runs," in text


def test_tensorboard_missing_is_one_line_before_anything_trains(tmp_path: Path, run,
                                                                monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    code, err = run("--log", "csv", "--log", "tensorboard")
    assert code == 2
    assert err == ("kdbench: error: --log tensorboard: logger 'tensorboard' needs the tensorboard "
                   'package, which is not installed: pip install "kdbench[tensorboard]"\n')
    assert not (tmp_path / "cache").exists() and not (tmp_path / "runs").exists()


def test_an_unknown_logger_suggests_close_names(tmp_path: Path, run) -> None:
    code, err = run("--log", "tensorbord")
    assert code == 2
    assert err.startswith("kdbench: error: --log tensorbord: unknown logger 'tensorbord'; did you "
                          "mean 'tensorboard'?")
    assert err.count("\n") == 1 and not (tmp_path / "cache").exists()


def test_a_third_party_logger_receives_every_epoch(tmp_path: Path, run, install, capsys) -> None:
    install("kdbench-recorder", {"kdbench_recorder": RECORDER}, {"recorder": "kdbench_recorder"})
    assert main(["list", "loggers"]) == 0
    assert "recorder" in capsys.readouterr().out
    code, err = run("--log", "recorder")
    assert code == 0, err
    result = only_result(tmp_path)
    lines = json.loads((tmp_path / "runs" / "tiny" / "smoke" / result["run_id"] / "epochs.json")
                       .read_text())
    assert [line["epoch"] for line in lines] == [0, 1]
    assert {line["kind"] for line in lines} == {"student"} and lines[0]["seed"] == 0
    assert [line["loss"] for line in lines] == [e["loss"] for e in result["history"]]
    assert [line["lr"] for line in lines] == [e["lr"] for e in result["history"]]
    assert [line["test_acc"] for line in lines] == [e["test_acc"] for e in result["history"]]
    assert all(line["images_per_s"] > 0 for line in lines)
    [teacher] = (tmp_path / "runs" / "teachers").iterdir()
    assert [line["kind"] for line in json.loads((teacher / "epochs.json").read_text())] == ["teacher"]


def test_a_logger_that_raises_is_dropped_and_the_run_goes_on(tmp_path: Path, run, install) -> None:
    install("kdbench-failing", {"kdbench_failing": FAILING}, {"failing": "kdbench_failing"})
    code, err = run("--log", "failing", "--log", "csv")
    assert code == 0 and only_result(tmp_path)["status"] == "ok"
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 2  # the teacher and the student, once each
    assert warnings[-1] == (f"kdbench: warning: logger 'failing' (kdbench-failing 0.1) stopped "
                            f"logging tiny/smoke/{only_result(tmp_path)['run_id']}: log_epoch raised "
                            "OSError: disk full")
    assert len(list((tmp_path / "runs").rglob("metrics.csv"))) == 2


def test_a_broken_logger_plugin_is_isolated(tmp_path: Path, run, install) -> None:
    source = """
        from kdbench import hookimpl

        @hookimpl
        def kdbench_loggers():
            raise ImportError("No module named 'wandb'")
    """
    install("kdbench-wandb", {"kdbench_wandb": source}, {"wandb": "kdbench_wandb"})
    code, err = run("--log", "csv")
    assert code == 0
    assert ("kdbench: warning: plugin 'wandb' (kdbench-wandb 0.1) skipped: kdbench_loggers raised "
            "ImportError: No module named 'wandb'") in err
    code, err = run("--log", "wandb")
    assert code == 2 and "--log wandb: unknown logger 'wandb'" in err


class Recording:
    """A logger that keeps what it is given, for the group's own tests."""

    made: list[Recording] = []

    def __init__(self, params: NoParams, run: LoggedRun):
        self.run, self.epochs, self.closed = run, [], 0
        Recording.made.append(self)

    def log_epoch(self, epoch: int, record: EpochRecord) -> None:
        self.epochs.append((epoch, record))

    def close(self) -> None:
        self.closed += 1


def group(tmp_path: Path, *factories) -> LoggerGroup:
    chosen = [Chosen(Registered(LoggerInfo(f"l{i}", "test", factory), "test", "test 0"), NoParams())
              for i, factory in enumerate(factories)]
    return LoggerGroup(chosen, tmp_path / "runs")


def test_the_group_calls_on_epoch_first_and_closes_loggers_on_error(tmp_path: Path) -> None:
    Recording.made.clear()
    seen = []
    run = LoggedRun("student", "a/b", tmp_path / "a" / "b", "a run")
    with pytest.raises(KeyboardInterrupt):
        with group(tmp_path, Recording).open(run, lambda e, entry: seen.append(e)) as on_epoch:
            on_epoch(0, {**ENTRY, "epoch": 0})
            raise KeyboardInterrupt
    [logger] = Recording.made
    assert isinstance(logger, Logger) and logger.run is run
    assert seen == [0] and [epoch for epoch, _ in logger.epochs] == [0] and logger.closed == 1
    assert logger.epochs[0][1].loss == {"ce": 0.5, "kd": 0.25}


def test_a_group_without_loggers_returns_the_callback_itself(tmp_path: Path) -> None:
    def callback(epoch, entry):
        return None

    with LoggerGroup().open(LoggedRun("teacher", "t", tmp_path, "t"), callback) as on_epoch:
        assert on_epoch is callback


def test_a_logger_whose_factory_raises_leaves_the_others(tmp_path: Path, caplog) -> None:
    Recording.made.clear()

    def broken(params, run):
        raise ValueError("no token")

    run = LoggedRun("student", "a/b", tmp_path, "a run")
    with group(tmp_path, broken, Recording).open(run) as on_epoch:
        on_epoch(0, ENTRY)
    assert "logger 'l0' (test 0) stopped logging a/b: its factory raised ValueError: no token" in caplog.text
    assert Recording.made[0].closed == 1 and len(Recording.made[0].epochs) == 1


def log(logger, epochs: list[int], loss: dict[str, float]) -> None:
    for epoch in epochs:
        logger.log_epoch(epoch, EpochRecord(epoch, 0.1, loss, 100.0))
    logger.close()


def test_csv_of_a_resumed_run_keeps_earlier_epochs_and_replaces_later_ones(tmp_path: Path) -> None:
    run = LoggedRun("student", "r", tmp_path / "r", "r")
    log(CSVLogger(NoParams(), run), [0, 1, 2], {"ce": 1.0, "kd": 2.0})
    log(CSVLogger(NoParams(), run), [1], {"ce": 0.5})  # resumed at 1; kd no longer returned
    rows = read_csv(tmp_path / "r" / "metrics.csv")
    assert [(row["epoch"], row["loss/ce"], row["loss/kd"]) for row in rows] == [
        ("0", "1.0", "2.0"), ("1", "0.5", "")]


def test_csv_rows_that_are_not_epochs_are_dropped(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "metrics.csv").write_text("epoch,lr\n0,0.3\n-1,0.2\nx,0.1\n,\n7\n")
    log(CSVLogger(NoParams(), LoggedRun("student", "r", tmp_path / "r", "r")), [1], {"ce": 1.0})
    rows = read_csv(tmp_path / "r" / "metrics.csv")
    assert [(row["epoch"], row["lr"]) for row in rows] == [("0", "0.3"), ("1", "0.1")]


def test_tensorboard_of_a_resumed_run_purges_the_epochs_it_redoes(tmp_path: Path) -> None:
    run = LoggedRun("student", "r", tmp_path / "r", "r")
    log(TensorBoardLogger(NoParams(), run), [0, 1, 2], {"ce": 1.0})
    log(TensorBoardLogger(NoParams(), run), [1], {"ce": 0.5})
    assert scalars(tmp_path / "r")["loss/ce"] == [(0, 1.0), (1, 0.5)]
