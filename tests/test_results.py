"""Result files: atomic writes, a stable layout, broken files named."""

from __future__ import annotations

import pytest

from kdbench.errors import KdbenchError
from kdbench.expand import expand
from kdbench.results import ResultStore, RunResult
from kdbench.specs import TrackSpec


def a_run(pm, tiny_track):
    return expand(TrackSpec.model_validate(tiny_track), "full", pm)[0]


def test_write_then_read_back(tmp_path, pm, tiny_track) -> None:
    spec = a_run(pm, tiny_track)
    store = ResultStore(tmp_path)
    result = RunResult(run_id=spec.run_id, spec=spec, status="ok", metrics={"test": {"kl": 0.5}})
    path = store.write(result)
    assert path == tmp_path / "tiny" / "full" / f"{spec.run_id}.json"
    assert store.get(spec) == result and store.scan() == [result] and store.scan("other") == []
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_broken_result_file_is_named(tmp_path) -> None:
    bad = tmp_path / "tiny" / "full" / "abc.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"run_id": "abc"')
    with pytest.raises(KdbenchError, match="abc.json: not a valid kdbench result file"):
        ResultStore(tmp_path).scan()
