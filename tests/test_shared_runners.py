"""Runners that share one results folder and one cache, as real processes: a lock per teacher and
per run (released by the kernel when its holder is killed), two ``kdbench run`` at once that train
each teacher once and make each run once, and a ``kill -9`` mid-run that the same command resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from kdbench.execution.locks import held

HOLD = """
import sys, time
from kdbench.execution.locks import held
with held(sys.argv[1], "teacher", "abc"):
    print("holding", flush=True)
    time.sleep(600)
"""


EPOCHS = 400  # many short epochs, so the kill lands mid-run even on a fast machine


def kdbench(*args: str) -> list[str]:
    return [sys.executable, "-m", "kdbench", *args]


def test_a_lock_held_by_a_killed_process_is_free(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        with held(tmp_path, "teacher", "abc", wait=False) as mine:
            assert not mine
        with held(tmp_path, "teacher", "other", wait=False) as mine:
            assert mine
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with held(tmp_path, "teacher", "abc", wait=False) as mine:
        assert mine


def test_two_runners_on_one_folder_train_each_teacher_once_and_make_each_run_once(
        tiny_track, write_track, tmp_path: Path) -> None:
    spec = write_track(tiny_track)
    command = kdbench("run", "--spec", str(spec), "--budget", "smoke", "--results",
                      str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"))
    runners = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    logs = [runner.communicate(timeout=600)[1] for runner in runners]
    assert [runner.returncode for runner in runners] == [0, 0], logs
    lines = [line for log in logs for line in log.splitlines()]
    trained = [line for line in lines if line.startswith("trained teacher")]
    assert sorted(line.split(" in ")[0] for line in trained) == [
        "trained teacher mlp-128, seed 0", "trained teacher mlp-64, seed 0"]
    made = [line.split("] ", 1)[1].split(": test acc")[0] for line in lines if ": test acc" in line]
    assert len(made) == len(set(made)) == 5
    assert sum("skipped (done" in line for line in lines) == 5  # each run made once, read back once
    results = [json.loads(path.read_text()) for path in (tmp_path / "results").rglob("*.json")]
    assert len(results) == 5 and all(result["status"] == "ok" for result in results)


def test_a_killed_sweep_resumes_its_run_from_the_last_epoch(tiny_track, write_track,
                                                            tmp_path: Path) -> None:
    tiny_track["methods"] = [{"name": "ce"}]
    tiny_track["seeds"] = [0]
    tiny_track["budgets"]["smoke"]["student"] = {"epochs": EPOCHS, "milestones": [],
                                                 "eval_every": EPOCHS}
    spec = write_track(tiny_track)
    command = kdbench("run", "--spec", str(spec), "--budget", "smoke", "--results", str(tmp_path / "results"),
                      "--cache-dir", str(tmp_path / "cache"))
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = tmp_path / "cache" / "runs"
    deadline = time.monotonic() + 300
    while not list(runs.glob("*.pt")) and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    assert driver.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    (checkpoint,) = runs.glob("*.pt")
    before = torch.load(checkpoint, weights_only=True)["history"]
    assert 0 < len(before) < EPOCHS
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    (path,) = (tmp_path / "results").rglob("*.json")
    history = json.loads(path.read_text())["history"]
    assert len(history) == EPOCHS and history[:len(before)] == before  # those epochs were not run again
    assert not checkpoint.exists()


def workers_of(driver: int) -> list[int]:
    """The spawned worker processes of ``driver`` (not multiprocessing's resource tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == driver and b"spawn_main" in command and b"resource_tracker" not in command:
            found.append(int(stat.parent.name))
    return found


def test_a_killed_worker_stops_the_sweep_in_one_line_and_the_same_command_resumes_it(
        tiny_track, write_track, tmp_path: Path) -> None:
    tiny_track["methods"] = [{"name": "ce"}]
    tiny_track["budgets"]["smoke"] |= {"seeds": [0, 1], "student": {"epochs": EPOCHS, "milestones": [],
                                                                    "eval_every": EPOCHS}}
    spec = write_track(tiny_track)
    command = kdbench("run", "--spec", str(spec), "--budget", "smoke", "--jobs", "2", "--results",
                      str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"))
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    runs = tmp_path / "cache" / "runs"
    deadline = time.monotonic() + 300
    while not list(runs.glob("*.pt")) and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(workers_of(driver.pid)[0], signal.SIGKILL)
    err = driver.communicate(timeout=300)[1]
    assert driver.returncode == 2 and "a worker process died while running ce: mlp-16" in err
    assert "Traceback" not in err, err
    interrupted = {path.stem: torch.load(path, weights_only=True)["history"] for path in runs.glob("*.pt")}
    assert interrupted
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    results = {path.stem: json.loads(path.read_text()) for path in (tmp_path / "results").rglob("*.json")}
    assert len(results) == 2 and all(r["status"] == "ok" for r in results.values())
    for run_id, before in interrupted.items():
        assert results[run_id]["history"][:len(before)] == before


@pytest.mark.slow
def test_ctrl_c_stops_the_workers_at_once_and_starts_no_other_run(tiny_track, write_track,
                                                                  tmp_path: Path) -> None:
    """Ctrl-C reaches every process of the terminal's group: the workers' runs stop, and the
    workers must not go on to the runs queued for them (hours each, in a real sweep)."""
    tiny_track["methods"] = [{"name": "ce"}]
    epochs = 10 * EPOCHS  # runs far longer than an exit takes
    tiny_track["budgets"]["smoke"] |= {"seeds": [0, 1, 2, 3], "student": {
        "epochs": epochs, "milestones": [], "eval_every": epochs}}
    spec = write_track(tiny_track)
    command = kdbench("run", "--spec", str(spec), "--budget", "smoke", "--jobs", "2", "--results",
                      str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"))
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)  # its own group, as a terminal's job
    runs = tmp_path / "cache" / "runs"
    deadline = time.monotonic() + 300
    while not list(runs.glob("*.pt")) and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(driver.pid, signal.SIGINT)
    err = driver.communicate(timeout=300)[1]
    assert driver.returncode == 130 and "kdbench: interrupted" in err, err
    assert "Traceback" not in err, err
    assert not list((tmp_path / "results").rglob("*.json"))  # no queued run went on after Ctrl-C
    assert list(runs.glob("*.pt"))  # the interrupted runs resume from their checkpoints
