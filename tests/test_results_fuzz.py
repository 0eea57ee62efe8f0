"""Property-based: whatever a result file holds, reading it either gives a result that passes every
check or refuses it in one line naming the file; it never raises anything else."""

from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kdbench.expand import expand
from kdbench.results import InvalidResult, ResultStore, RunResult, problems
from kdbench.specs import TrackSpec

JUNK = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                 st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5),
                                                                      st.integers(), max_size=3))


def paths(data, prefix=()):
    """Every (path, value) in a JSON document."""
    yield prefix, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from paths(value, (*prefix, index))


def replaced(data, path, value):
    if not path:
        return value
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[path[0]] = replaced(data[path[0]], path[1:], value)
    return copy


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(choice=st.integers(0, 10_000), value=JUNK, drop=st.booleans())
def test_any_edit_of_a_result_is_checked_or_refused(tmp_path, pm, tiny_track, choice, value,
                                                    drop) -> None:
    spec = next(run for run in expand(TrackSpec.model_validate(tiny_track), "full", pm) if run.teacher)
    store = ResultStore(tmp_path)
    metrics = {"student_acc": 90.0, "teacher_acc": 91.0, "agreement": 95.0, "kd_error": 5.0,
               "kl": 0.1, "student_nll": 0.3, "teacher_nll": 0.3, "student_ece": 1.0,
               "teacher_ece": 1.0}
    original = RunResult(run_id=spec.run_id, spec=spec, status="ok",
                         metrics={"test": metrics, "train": metrics}).model_dump(mode="json")
    where = list(paths(original))[choice % len(list(paths(original)))][0]
    if drop and where:
        parent = dict(original) if len(where) == 1 else None
        edited = original if parent is None else {k: v for k, v in parent.items() if k != where[0]}
    else:
        edited = replaced(original, where, value)
    path = store.path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(edited, allow_nan=True))
    try:
        result = store.read(path)
    except InvalidResult as error:
        assert str(path) in str(error) and "\n" not in str(error)
        return
    assert problems(result) == [] and result.run_id == spec.run_id
    for values in result.metrics.values():
        assert all(v is None or math.isfinite(v) for v in values.values())
