"""``kdbench run`` loses nothing it trained: unwritable outputs stop it before it trains, a failed
write keeps the checkpoint to resume from, corrupt cache files are made again, and a resumed run
reports the images/s its epochs had."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
import torch

from kdbench import runner as runner_module
from kdbench.cli import main


@pytest.fixture
def spec(tiny_track, write_track) -> Path:
    """One run (ce, seed 0, two epochs) that needs no teacher."""
    tiny_track["methods"] = [{"name": "ce"}]
    return write_track(tiny_track)


@pytest.fixture
def run(tmp_path: Path, spec: Path, capsys):
    def run(*extra: str, results: Path | None = None, cache: Path | None = None) -> tuple[int, str]:
        code = main(["run", "--spec", str(spec), "--budget", "smoke", *extra,
                     "--results", str(results or tmp_path / "results"),
                     "--cache-dir", str(cache or tmp_path / "cache")])
        return code, capsys.readouterr().err
    return run


def lines(err: str, kind: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(f"kdbench: {kind}:")]


def result_files(tmp_path: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((tmp_path / "results").rglob("*.json"))]


def test_an_unwritable_cache_stops_before_anything_runs(tmp_path, run) -> None:
    code, err = run(cache=Path("/proc/nope"))
    (error,) = lines(err, "error")
    assert code == 2 and "Traceback" not in err
    assert "cache folder" in error and "/proc/nope" in error and "[Errno" in error
    assert result_files(tmp_path) == []


@pytest.mark.parametrize("where", ["results", "results/tiny/smoke"])
def test_a_results_path_that_is_a_file_stops_before_anything_trains(tmp_path, run, where) -> None:
    (tmp_path / where).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / where).write_text("not a folder")
    code, err = run()
    (error,) = lines(err, "error")
    assert code == 2 and "results folder" in error and str(tmp_path / "results") in error
    assert not (tmp_path / "cache" / "runs").exists() and not list(tmp_path.rglob("*.safetensors"))


def test_an_unwritable_log_folder_stops_before_anything_trains(tmp_path, run) -> None:
    (tmp_path / "logs").write_text("a file where the log folder should be")
    code, err = run("--log", "csv", "--log-dir", str(tmp_path / "logs" / "runs"))
    (error,) = lines(err, "error")
    assert code == 2 and "log folder (--log-dir)" in error and str(tmp_path / "logs") in error
    assert result_files(tmp_path) == [] and not (tmp_path / "cache" / "runs").exists()
    code, err = run("--log-dir", str(tmp_path / "logs" / "runs"))  # no logger: the folder is not used
    assert code == 0, err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_results_folder_stops_before_anything_trains(tmp_path, run) -> None:
    (tmp_path / "results").mkdir(mode=0o500)
    code, err = run()
    assert code == 2 and "Permission denied" in lines(err, "error")[0]
    assert not list(tmp_path.rglob("*.safetensors"))


def full_disk_under(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write of bytes or text under ``folder`` fails as a full disk does."""
    write_text, write_bytes = Path.write_text, Path.write_bytes

    def refuse(self: Path) -> None:
        if folder in self.parents:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "write_text", lambda self, *a, **k: refuse(self) or write_text(self, *a, **k))
    monkeypatch.setattr(Path, "write_bytes", lambda self, data: refuse(self) or write_bytes(self, data))


def test_a_result_that_cannot_be_written_keeps_the_checkpoint_and_resumes(tmp_path, run,
                                                                          monkeypatch) -> None:
    with monkeypatch.context() as patch:
        full_disk_under(tmp_path / "results", patch)
        code, err = run()
    (error,) = lines(err, "error")
    assert code == 2 and "Traceback" not in err and "FAILED" not in err
    assert error.startswith(f"kdbench: error: cannot write {tmp_path / 'results'}")
    assert "No space left on device" in error and result_files(tmp_path) == []
    (checkpoint,) = (tmp_path / "cache" / "runs").glob("*.pt")
    assert not list((tmp_path / "results").rglob("*.safetensors"))  # the student goes beside it
    trained = torch.load(checkpoint, weights_only=True)["history"]

    code, err = run()
    assert code == 0 and lines(err, "error") == []
    (result,) = result_files(tmp_path)
    assert result["status"] == "ok" and result["history"] == trained  # resumed, not trained again
    student = tmp_path / "results" / "tiny" / "smoke" / f"{result['run_id']}.safetensors"
    assert not checkpoint.exists() and student.exists()


def test_a_checkpoint_that_cannot_be_written_is_an_error_not_a_failed_run(tmp_path, run,
                                                                          monkeypatch) -> None:
    with monkeypatch.context() as patch:
        full_disk_under(tmp_path / "cache" / "runs", patch)
        code, err = run()
    assert code == 2 and "cache" in lines(err, "error")[0] and "No space left" in err
    assert result_files(tmp_path) == []


def test_a_corrupt_run_checkpoint_is_moved_aside_and_the_run_made_again(tmp_path, run) -> None:
    assert run()[0] == 0
    (before,) = result_files(tmp_path)
    checkpoint = tmp_path / "cache" / "runs" / f"{before['run_id']}.pt"
    checkpoint.write_bytes(os.urandom(3000))
    code, err = run("--rerun")
    (warning,) = lines(err, "warning")
    assert code == 0 and str(checkpoint) in warning and "Traceback" not in err
    (after,) = result_files(tmp_path)
    assert after["status"] == "ok" and not checkpoint.exists()
    assert checkpoint.with_name(checkpoint.name + ".corrupt").exists()
    assert after["student_sha256"] == before["student_sha256"]


@pytest.mark.parametrize("damage", [b"", b"\0" * 100, "truncate"])
def test_a_corrupt_student_is_moved_aside_and_its_run_made_again(tmp_path, run, damage) -> None:
    assert run()[0] == 0
    (before,) = result_files(tmp_path)
    student = tmp_path / "results" / "tiny" / "smoke" / f"{before['run_id']}.safetensors"
    student.write_bytes(student.read_bytes()[:-10] if damage == "truncate" else damage)
    code, err = run()
    (warning,) = lines(err, "warning")
    assert code == 0 and str(student) in warning and "skipped" not in err
    (after,) = result_files(tmp_path)
    assert after["student_sha256"] == before["student_sha256"]
    assert student.read_bytes() != student.with_name(student.name + ".corrupt").read_bytes()
    code, err = run()
    assert code == 0 and "skipped (done)" in err and lines(err, "warning") == []


def test_a_resumed_run_reports_the_images_per_second_of_its_epochs(tmp_path, run, monkeypatch) -> None:
    fit = runner_module.fit

    def interrupted(*args, on_epoch, **kwargs):
        def stop(epoch, entry):
            on_epoch(epoch, entry)
            raise KeyboardInterrupt
        return fit(*args, on_epoch=stop, **kwargs)

    monkeypatch.setattr(runner_module, "fit", interrupted)
    assert run()[0] == 130
    monkeypatch.setattr(runner_module, "fit", fit)
    assert run()[0] == 0
    (result,) = result_files(tmp_path)
    history = result["history"]
    assert len(history) == 2
    expected = sum(e["images"] for e in history) / sum(e["seconds"] for e in history)
    assert result["timing"]["images_per_s"] == pytest.approx(expected)
