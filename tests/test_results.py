"""Result files: atomic writes, a stable layout, and checks before any use: a file whose name,
folder, run id or metrics do not agree with its own spec is refused with the reason."""

from __future__ import annotations

import json
import math

import pytest

from kdbench.errors import KdbenchError
from kdbench.expand import expand
from kdbench.results import InvalidResult, ResultStore, RunResult, protocol_id
from kdbench.specs import TrackSpec


def runs(pm, tiny_track):
    return expand(TrackSpec.model_validate(tiny_track), "full", pm)


def metrics(teacher: bool) -> dict:
    labels = {"student_acc": 96.7, "student_nll": 0.1, "student_ece": 1.5}
    fidelity = {"teacher_acc": 97.0, "teacher_nll": 0.09, "teacher_ece": 1.2, "agreement": 98.0,
                "kl": 0.02, "kd_error": 2.0} if teacher else {}
    return {"test": {**labels, **fidelity}, "train": {**labels, **fidelity}}


def written(tmp_path, spec, **change) -> tuple[ResultStore, RunResult]:
    store = ResultStore(tmp_path)
    result = RunResult(run_id=spec.run_id, spec=spec, status="ok",
                       metrics=metrics(spec.teacher is not None), student_sha256="0" * 64)
    store.write(result)
    if change:
        data = json.loads(store.path(spec).read_text())
        for dotted, value in change.items():
            *parents, last = dotted.split("__")
            target = data
            for part in parents:
                target = target[part]
            target[last] = value
        store.path(spec).write_text(json.dumps(data))
    return store, result


def test_write_then_read_back(tmp_path, pm, tiny_track) -> None:
    spec = runs(pm, tiny_track)[0]
    store, result = written(tmp_path, spec)
    path = store.path(spec)
    assert path == tmp_path / "tiny" / "full" / f"{spec.run_id}.json"
    assert store.get(spec) == result and store.scan().results == [result]
    assert store.scan("other").results == []
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    assert json.loads(path.read_text())["units"]["kl"] == "nats"


def test_a_track_folder_given_as_the_results_root_is_a_one_line_error(tmp_path, pm, tiny_track) -> None:
    spec = runs(pm, tiny_track)[0]
    store, result = written(tmp_path, spec)
    assert ResultStore(tmp_path).scan().results == [result]
    with pytest.raises(KdbenchError, match=r"tiny looks like a track's folder .*; give the results folder"):
        ResultStore(tmp_path / "tiny").scan()


def test_broken_result_file_is_named(tmp_path) -> None:
    bad = tmp_path / "tiny" / "full" / "abc.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"run_id": "abc"')
    (rejected,) = ResultStore(tmp_path).scan().rejected
    assert rejected.path == bad and "not a valid kdbench result file" in rejected.reason


@pytest.mark.parametrize("change, reason", [
    ({"run_id": "not-a-digest"}, "run_id"),
    ({"run_id": "0123456789abcdef"}, "is not the hash of its spec"),
    ({"spec__seed": 7}, "is not the hash of its spec"),
    ({"spec__track": "../README"}, "spec.track"),
    ({"metrics__test__student_acc": 101.0}, "not a percentage"),
    ({"metrics__test__student_acc": -1.0}, "not a percentage"),
    ({"metrics__test__kl": -0.5}, "is negative"),
    ({"metrics__test__agreement": 99.95}, "do not add up to 100"),
    ({"metrics__test__student_nll": math.nan}, "not a finite number"),
    ({"metrics__test__mystery": 1.0}, "unknown metric"),
    ({"metrics__test__student_acc": None}, "metrics.test.student_acc is missing"),
    ({"metrics__train__kl": None}, "metrics.train.kl is missing"),
    ({"student_sha256": "abc"}, "not a sha256 digest"),
    ({"status": "failed"}, "must say why"),
    ({"surprise": 1}, "Extra inputs are not permitted"),
])
def test_results_that_disagree_with_themselves_are_refused(tmp_path, pm, tiny_track, change,
                                                           reason) -> None:
    spec = next(run for run in runs(pm, tiny_track) if run.teacher is not None)
    store, _ = written(tmp_path, spec, **change)
    scan = store.scan()
    assert scan.results == [] and len(scan.rejected) == 1
    assert reason in scan.rejected[0].reason and str(store.path(spec)) in str(scan.rejected[0])
    assert store.get(spec) is None  # a refused file is never a finished run


def test_a_run_without_teacher_has_no_fidelity_metrics(tmp_path, pm, tiny_track) -> None:
    spec = next(run for run in runs(pm, tiny_track) if run.teacher is None)
    store, _ = written(tmp_path, spec, metrics__test__agreement=90.0)
    assert "a run without a teacher has no agreement" in store.scan().rejected[0].reason


def test_a_file_copied_under_another_name_or_folder_is_refused(tmp_path, pm, tiny_track) -> None:
    spec = runs(pm, tiny_track)[0]
    store, _ = written(tmp_path, spec)
    text = store.path(spec).read_text()
    for where in (tmp_path / "tiny" / "full" / "0123456789abcdef.json",
                  tmp_path / "tiny" / "smoke" / f"{spec.run_id}.json",
                  tmp_path / "other" / "full" / f"{spec.run_id}.json"):
        where.parent.mkdir(parents=True, exist_ok=True)
        where.write_text(text)
    scan = store.scan()
    assert len(scan.results) == 1 and len(scan.rejected) == 3
    assert all("it belongs at tiny/full/" in error.reason for error in scan.rejected)
    with pytest.raises(InvalidResult):
        store.read(tmp_path / "other" / "full" / f"{spec.run_id}.json")


def test_protocol_id_ignores_code_versions_only(pm, tiny_track) -> None:
    spec = next(run for run in runs(pm, tiny_track) if run.teacher is not None)
    newer = spec.model_copy(update={"code": ("kdbench:kd@2",), "teacher": spec.teacher.model_copy(
        update={"code": ("kdbench:mlp@2",)})})
    assert newer.run_id != spec.run_id and protocol_id(newer) == protocol_id(spec)
    assert protocol_id(spec.model_copy(update={"seed": 5})) != protocol_id(spec)


def test_an_oversized_file_is_refused_unread(tmp_path, monkeypatch) -> None:
    import kdbench.results

    monkeypatch.setattr(kdbench.results, "MAX_BYTES", 100)
    big = tmp_path / "tiny" / "full" / "0123456789abcdef.json"
    big.parent.mkdir(parents=True)
    big.write_text("{" + " " * 200 + "}")
    (rejected,) = ResultStore(tmp_path).scan().rejected
    assert "a result file is under 100" in rejected.reason
