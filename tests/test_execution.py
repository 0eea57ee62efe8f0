"""The execution layer: the planner's DAG (teacher jobs with every early stop, before the runs
that need them; nothing done twice), ``kdbench run --plan``, executors chosen and checked as
plugins, worker processes that give the in-process results, and the Python API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import kdbench
from kdbench.api import prepare
from kdbench.cli import main
from kdbench.engine.step import EngineOptions
from kdbench.execution.jobs import BankJob, RunJob, TeacherJob
from kdbench.execution.local import ready


@pytest.fixture
def early(tiny_track, write_track) -> Path:
    """CE and KD from mlp-64 and from its own checkpoint after 1 of its 3 epochs, seed 0."""
    tiny_track["teachers"] = [tiny_track["teachers"][0],
                              {**tiny_track["teachers"][0], "label": "mlp-64-early",
                               "snapshot_fraction": 0.34}]
    tiny_track["methods"] = [{"name": "ce"}, {"name": "kd"}]
    tiny_track["seeds"] = [0]
    return write_track(tiny_track)


def folders(tmp_path: Path) -> dict[str, Path]:
    return {"results": tmp_path / "results", "cache": tmp_path / "cache"}


def test_one_teacher_job_keeps_every_early_stop_and_comes_before_its_students(early, tmp_path) -> None:
    plan = prepare(early, "full", **folders(tmp_path)).plan()
    teachers = [job for job in plan.jobs if isinstance(job, TeacherJob)]
    runs = [job for job in plan.jobs if isinstance(job, RunJob)]
    assert len(teachers) == 1 and teachers[0].snapshots == (1,) and teachers[0].epochs == 3
    assert len(runs) == 3 and plan.epochs == 3 + 3 * 3
    order = [job.key for job in plan.jobs]
    for run in runs:
        needs = () if run.spec.method_label == "ce" else (teachers[0].key,)
        assert run.needs == needs
        assert all(order.index(key) < order.index(run.key) for key in run.needs)


def test_teacher_jobs_come_first_the_one_holding_up_the_most_run_epochs_first(tiny_track, write_track,
                                                                            tmp_path) -> None:
    tiny_track["methods"] = [{"name": "ce"}, {"name": "kd"},
                             {"name": "eskd", "teachers": [tiny_track["teachers"][1]["label"]]}]
    tiny_track["seeds"], tiny_track["teacher_seed"] = [0, 1], 0
    plan = prepare(write_track(tiny_track), "full", **folders(tmp_path)).plan()
    kinds = [isinstance(job, TeacherJob) for job in plan.jobs]
    assert kinds == sorted(kinds, reverse=True) and sum(kinds) == 2  # every teacher before any run
    first, second = plan.jobs[0], plan.jobs[1]
    waiting = {job.key: sum(run.epochs for run in plan.jobs if job.key in getattr(run, "needs", ()))
               for job in (first, second)}
    assert waiting[first.key] > waiting[second.key]  # the second teacher also has the eskd runs
    assert first.describe().startswith(f"teacher {tiny_track['teachers'][1]['label']}")


def test_plan_prints_the_dag_and_trains_nothing(early, tmp_path, capsys) -> None:
    where = folders(tmp_path)
    code = main(["run", "--spec", str(early), "--plan", "--results", str(where["results"]),
                 "--cache-dir", str(where["cache"])])
    out = capsys.readouterr().out
    assert code == 0 and "3 runs: 0 done" in out and "1 teacher network to train" in out
    assert "4 jobs, 12 epochs" in out and "also keeps epoch 1" in out
    assert out.count("teacher:") == 3  # the job, and the two KD runs that wait for it
    assert not where["results"].exists() and not where["cache"].exists()


def test_plan_says_which_runs_take_their_teacher_from_a_view_bank(tiny_track, write_track, tmp_path,
                                                                   capsys) -> None:
    tiny_track["budgets"]["smoke"]["student"]["augment"] = ["flip"]
    where = folders(tmp_path)
    args = ["run", "--spec", str(write_track(tiny_track)), "--budget", "smoke", "--plan", "--results",
            str(where["results"]), "--cache-dir", str(where["cache"])]
    assert main([*args, "--view-bank", "on"]) == 0
    banked = capsys.readouterr().out.count("from a view bank")
    assert main([*args, "--view-bank", "off"]) == 0
    assert banked > 0 and "from a view bank" not in capsys.readouterr().out


def test_a_shared_view_bank_is_one_job_after_its_teacher_that_its_runs_wait_for(tiny_track, write_track,
                                                                                tmp_path, capsys) -> None:
    tiny_track["budgets"]["smoke"]["student"]["augment"] = ["flip"]
    tiny_track["methods"] = [{"name": "ce"}, {"name": "kd"}, {"name": "eskd"}, {"name": "hint"}]
    tiny_track["seeds"], tiny_track["teacher_seed"] = [0, 1], 0
    track = write_track(tiny_track)
    plan = prepare(track, "smoke", seeds=[0, 1], **folders(tmp_path)).plan()
    teachers = [job for job in plan.jobs if isinstance(job, TeacherJob)]
    banks = [job for job in plan.jobs if isinstance(job, BankJob)]
    kinds = [type(job).__name__ for job in plan.jobs]
    assert kinds == sorted(kinds, key=["TeacherJob", "BankJob", "RunJob"].index)  # teachers, banks, runs
    assert len(teachers) == len(banks) == 2 and all(bank.runs == 4 for bank in banks)  # kd, eskd x 2 seeds
    for bank in banks:
        teacher = next(job for job in teachers if job.teacher.teacher_id == bank.spec.teacher.teacher_id)
        assert bank.needs == (teacher.key,) and bank.epochs == 0
    for run in (job for job in plan.jobs if isinstance(job, RunJob)):
        waits = {key.split(":")[0] for key in run.needs}
        if run.spec.method_label in ("kd", "eskd"):
            assert run.view_bank and waits == {"teacher", "bank"}
        else:  # ce has no teacher; hint reads the teacher's features, which no bank holds
            assert not run.view_bank and waits <= {"teacher"}
    assert "2 view banks to make" in plan.summary()
    off = prepare(track, "smoke", seeds=[0, 1], **folders(tmp_path),
                  engine=EngineOptions(view_bank="off")).plan()
    assert not any(isinstance(job, BankJob) for job in off.jobs)
    assert main(["run", "--spec", str(track), "--budget", "smoke", "--plan", "--results",
                 str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache")]) == 0
    assert capsys.readouterr().out.count("view bank of teacher mlp-") == 2


def test_no_view_bank_is_planned_where_the_training_data_cannot_have_one(tiny_track, write_track, tmp_path,
                                                                        monkeypatch, capsys) -> None:
    """A bank over the size limit (CIFAR-100's crops and flips: 3 GiB) or of streamed images is
    never made, so the plan must not promise one: no bank job, and its runs run the teacher live."""
    from kdbench.engine import view_bank

    tiny_track["budgets"]["smoke"]["student"]["augment"] = ["flip"]
    monkeypatch.setattr(view_bank, "LIMIT_BYTES", 1)
    plan = prepare(write_track(tiny_track), "smoke", **folders(tmp_path),
                   engine=EngineOptions(view_bank="on")).plan()
    assert not any(isinstance(job, BankJob) for job in plan.jobs)
    assert not any(isinstance(job, RunJob) and job.view_bank for job in plan.jobs)
    assert all(not key.startswith("bank:") for job in plan.jobs for key in job.needs)


def test_a_free_worker_takes_the_first_ready_job_in_the_plans_order() -> None:
    jobs = [SimpleNamespace(key=key, needs=needs) for key, needs in
            [("teacher:a", ()), ("bank:a", ("teacher:a",)), ("run:1", ()), ("run:2", ("bank:a",)),
             ("run:3", ())]]
    assert [job.key for job in ready(jobs, set(), 2)] == ["teacher:a", "run:1"]
    assert [job.key for job in ready(jobs[1:], {"teacher:a"}, 1)] == ["bank:a"]  # before the runs
    assert [job.key for job in ready(jobs[2:], {"teacher:a", "bank:a"}, 5)] == ["run:1", "run:2", "run:3"]
    assert ready(jobs, set(), 0) == []


def test_finished_runs_and_cached_teachers_are_not_jobs(early, tmp_path) -> None:
    where = folders(tmp_path)
    results = kdbench.run(early, "smoke", progress=False, **where)
    assert [r.status for r in results] == ["ok"] * 3
    assert prepare(early, "smoke", **where).plan().jobs == []
    kd = next(r for r in results if r.spec.method_label == "kd")
    (where["results"] / "tiny" / "smoke" / f"{kd.run_id}.json").unlink()
    plan = prepare(early, "smoke", **where).plan()
    assert [job.key for job in plan.jobs] == [f"run:{kd.run_id}"] and plan.jobs[0].needs == ()
    assert len(plan.done) == 2


def test_the_api_returns_the_results_and_load_results_reads_them_back(early, tmp_path,
                                                                      monkeypatch) -> None:
    where = folders(tmp_path)
    results = kdbench.run(str(early), budget="smoke", seeds=[3], progress=False, **where)
    runs = prepare(early, "smoke", seeds=[3], **where).runs
    assert [r.run_id for r in results] == [spec.run_id for spec in runs]
    frame = kdbench.load_results(where["results"])
    assert sorted(frame["run_id"]) == sorted(r.run_id for r in results)
    assert set(frame["seed"]) == {3}
    ce = frame[frame["method"] == "ce"].iloc[0]
    assert ce["test.student_acc"] == results[0].metrics["test"]["student_acc"]
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    rows = kdbench.load_results(where["results"], track="tiny")
    assert isinstance(rows, list) and {row["run_id"] for row in rows} == set(frame["run_id"])


def test_an_empty_results_folder_loads_as_a_frame_with_the_row_columns(tmp_path) -> None:
    (tmp_path / "results").mkdir()
    frame = kdbench.load_results(tmp_path / "results")
    assert len(frame) == 0 and {"run_id", "method", "teacher", "seed", "status"} <= set(frame.columns)
    assert frame.groupby("method").size().empty  # what a notebook does first


def test_importing_kdbench_does_not_import_torch() -> None:
    code = ("import sys, kdbench; assert 'torch' not in sys.modules; "
            "assert callable(kdbench.run) and callable(kdbench.load_results)")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(("options", "message"), [
    (["--executor", "nope"], "--executor nope: unknown executor 'nope'"),
    (["--executor-opt", "jobs=0"], "--executor-opt jobs=0: Input should be greater than or equal to 1"),
    (["--executor-opt", "jobs"], "--executor-opt jobs: give KEY=VALUE"),
    (["--executor-opt", "worker=2"], "--executor-opt worker=2: Extra inputs are not permitted"),
    (["--jobs", "2", "--executor", "slurm"], "--jobs is an option of the local executor"),
    (["--jobs", "0"], "--jobs 0: give 1 or more"),
])
def test_a_bad_executor_choice_is_one_line_before_anything_runs(early, tmp_path, capsys, options,
                                                               message) -> None:
    where = folders(tmp_path)
    code = main(["run", "--spec", str(early), "--budget", "smoke", "--results", str(where["results"]),
                 "--cache-dir", str(where["cache"]), *options])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"kdbench: error: {message}") and len(err.splitlines()) == 1
    assert not where["results"].exists()


def test_list_executors_names_the_builtins(capsys) -> None:
    assert main(["list", "executors"]) == 0
    out = capsys.readouterr().out
    assert all(f"\n{name} " in out for name in ("local", "ray", "slurm"))


PLUGIN = '''
from kdbench import ExecutorInfo, hookimpl
from kdbench.execution.events import LocalReporter
from kdbench.execution.execute import execute
from kdbench.types import Params

RAN = []


class Backwards(Params):
    note: str = "none"


class BackwardsExecutor:
    """Runs the teachers first, then the runs last to first."""

    def __init__(self, params):
        self.params = params

    def run(self, jobs, context, view):
        ordered = [j for j in jobs if j.key.startswith("teacher:")] + \\
            [j for j in jobs if j.key.startswith("run:")][::-1]
        for job in ordered:
            RAN.append((self.params.note, job.key))
            yield execute(job, context, LocalReporter(view.progress, job.key))


class Idle:
    def __init__(self, params):
        pass

    def run(self, jobs, context, view):
        return iter(())


@hookimpl
def kdbench_executors():
    return [ExecutorInfo("backwards", "last run first", BackwardsExecutor, Backwards),
            ExecutorInfo("idle", "runs nothing", Idle)]
'''

BROKEN = '''
from kdbench import hookimpl

@hookimpl
def kdbench_executors():
    raise RuntimeError("no cluster here")
'''


def test_an_executor_plugin_runs_the_jobs_and_a_broken_one_is_skipped(early, tmp_path, install,
                                                                     capsys) -> None:
    install("kdbench-backwards", {"backwards_executor": PLUGIN, "broken_executor": BROKEN},
            {"backwards": "backwards_executor", "broken": "broken_executor"})
    where = folders(tmp_path)
    code = main(["run", "--spec", str(early), "--budget", "smoke", "--executor", "backwards",
                 "--executor-opt", "note=hi", "--results", str(where["results"]),
                 "--cache-dir", str(where["cache"])])
    err = capsys.readouterr().err
    assert code == 0 and "plugin 'broken' (kdbench-backwards 0.1) skipped: kdbench_executors raised" in err
    import backwards_executor

    plan_keys = [key for _, key in backwards_executor.RAN]
    assert [note for note, _ in backwards_executor.RAN] == ["hi"] * 4
    assert plan_keys[0].startswith("teacher:") and len(list(where["results"].rglob("*.json"))) == 3


def test_worker_processes_make_the_results_of_one_process(early, tmp_path, capsys) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each of the two workers of a 2-core machine, or fewer cores
    try:
        here = kdbench.run(early, "smoke", progress=False, results=tmp_path / "a", cache=tmp_path / "c1")
    finally:
        torch.set_num_threads(threads)
    capsys.readouterr()
    code = main(["run", "--spec", str(early), "--budget", "smoke", "--jobs", "2", "--results",
                 str(tmp_path / "b"), "--cache-dir", str(tmp_path / "c2")])
    err = capsys.readouterr().err
    assert code == 0 and err.count("trained teacher mlp-64, seed 0 in") == 1
    for result in here:
        path = tmp_path / "b" / "tiny" / "smoke" / f"{result.run_id}.json"
        assert json.loads(path.read_text())["metrics"] == result.metrics


def test_worker_processes_share_view_banks_made_by_bank_jobs(tiny_track, write_track, tmp_path,
                                                             capsys) -> None:
    tiny_track["budgets"]["smoke"]["student"]["augment"] = ["flip"]
    tiny_track["teacher_seed"] = 0
    track = write_track(tiny_track)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each of the two workers
    try:
        here = kdbench.run(track, "smoke", progress=False, results=tmp_path / "a", cache=tmp_path / "c1",
                           engine=EngineOptions(view_bank="on"))
    finally:
        torch.set_num_threads(threads)
    capsys.readouterr()
    code = main(["run", "--spec", str(track), "--budget", "smoke", "--jobs", "2", "--view-bank", "on",
                 "--results", str(tmp_path / "b"), "--cache-dir", str(tmp_path / "c2")])
    err = capsys.readouterr().err
    assert code == 0 and "failed" not in err, err
    assert err.count("made view bank of teacher mlp-") == 2  # one line each, off a terminal
    for result in here:
        written = json.loads((tmp_path / "b" / "tiny" / "smoke" / f"{result.run_id}.json").read_text())
        assert written["metrics"] == result.metrics
        assert all(entry["teacher_images"] == 0 for entry in written["history"])  # served by the bank
    banks = sorted((tmp_path / "c2" / "teachers").rglob("logits/train-views-*"))
    assert len(banks) == 2  # one per teacher, made by its bank job


def test_world_size_without_torchrun_s_rendezvous_is_one_line(early, tmp_path, capsys, monkeypatch) -> None:
    for name, value in {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    code = main(["run", "--spec", str(early), "--budget", "smoke", "--results", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "WORLD_SIZE=2 but no MASTER_ADDR" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_an_executor_that_leaves_runs_undone_is_an_error(early, tmp_path, install, capsys) -> None:
    install("kdbench-backwards", {"backwards_executor": PLUGIN}, {"backwards": "backwards_executor"})
    code = main(["run", "--spec", str(early), "--budget", "smoke", "--executor", "idle",
                 "--results", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2 and "kdbench: error: the executor ended without running 3 of the sweep's runs" in err


def test_more_worker_processes_than_jobs_split_the_cpus_between_the_jobs_only(monkeypatch) -> None:
    """``--jobs 8`` with one run left: that run's worker gets every CPU thread, not an eighth."""
    from kdbench.execution import local

    monkeypatch.setattr(local, "cpu_count", lambda: 16)
    assert local.worker_threads(8, jobs=1) == 16
    assert local.worker_threads(8, jobs=3) == 5
    assert local.worker_threads(4, jobs=10) == 4
    assert local.worker_threads(32, jobs=64) == 1
