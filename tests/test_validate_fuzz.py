"""Property-based tests of ``kdbench validate``: the tiny valid track, broken at random field paths
in ways that can never be valid, always exits 2 with one line per problem naming the file and a
line, never a traceback; in-bound changes still validate."""

from __future__ import annotations

import contextlib
import copy
import io
import math
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kdbench.cli import main
from kdbench.specs import MAX_BATCH, MAX_EPOCHS, MAX_SEED
from kdbench.yamlload import load_yaml
from tests.conftest import TINY_TRACK

pytestmark = pytest.mark.slow  # hypothesis searches: about 10 minutes in all on 2 cores

FUZZ = settings(max_examples=135, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def leaves(value: Any, loc: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """Every (path, value) in a nested track, containers included (the root is left out)."""
    found = [(loc, value)] if loc else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += leaves(item, (*loc, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += leaves(item, (*loc, i))
    return found


PATHS = leaves(TINY_TRACK)
STRINGS = [loc for loc, value in PATHS if isinstance(value, str)]
INTS = [loc for loc, value in PATHS if isinstance(value, int) and not isinstance(value, bool)]
FLOATS = [loc for loc, value in PATHS if isinstance(value, float)]
MAPPINGS = [()] + [loc for loc, value in PATHS if isinstance(value, dict)]
NOT_STRINGS = [loc for loc, value in PATHS if not isinstance(value, str)]
NAMES = [loc for loc, _ in PATHS if loc[-1] == "name" and loc != ("name",)]
REQUIRED = [("name",), ("title",), ("dataset",), ("dataset", "name"), ("students",), ("methods",),
            ("student_recipe",), ("teacher_recipe",), ("student_recipe", "epochs"),
            ("teachers", 0, "model"), ("teachers", 1, "model", "name"), ("students", 0, "model"),
            ("methods", 1, "name"), ("references", 0, "source"), ("references", 0, "metrics")]
BOUNDED = {  # path: (smallest, largest) allowed
    ("student_recipe", "epochs"): (2, MAX_EPOCHS), ("teacher_recipe", "batch_size"): (1, MAX_BATCH),
    ("seeds", 0): (0, MAX_SEED), ("budgets", "smoke", "seeds", 0): (0, MAX_SEED),
    ("budgets", "smoke", "train_limit"): (1, 10**9),
    ("teachers", 0, "model", "params", "hidden", 0): (1, 2**17),
}


class Yaml12Dumper(yaml.SafeDumper):
    """PyYAML writes YAML 1.1 and leaves strings such as '1E0' unquoted, which YAML 1.2 (kdbench's
    reading) takes for numbers: this dumper quotes every string that would not read back as itself."""


def _string(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    plain = yaml.safe_dump(text).removesuffix("\n...\n").removesuffix("\n")
    style = None if load_yaml(plain) == text else "'"
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


Yaml12Dumper.add_representer(str, _string)


def dump(data: Any) -> str:
    """``data`` as YAML that kdbench reads back as ``data``."""
    return yaml.dump(data, Dumper=Yaml12Dumper, sort_keys=False)


def put(track: dict, loc: tuple[Any, ...], value: Any) -> dict:
    """A copy of ``track`` with ``value`` at ``loc``."""
    changed = copy.deepcopy(track)
    parent = changed
    for part in loc[:-1]:
        parent = parent[part]
    parent[loc[-1]] = value
    return changed


def drop(track: dict, loc: tuple[Any, ...]) -> dict:
    changed = copy.deepcopy(track)
    parent = changed
    for part in loc[:-1]:
        parent = parent[part]
    del parent[loc[-1]]
    return changed


def validate(text: str) -> tuple[int, list[str], str]:
    """``kdbench validate`` on a file holding ``text``: exit code, stderr lines, the file's path."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "track.yaml"
        path.write_text(text, encoding="utf-8")
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["validate", str(path)])
        return code, err.getvalue().splitlines(), str(path)


def assert_refused(track_or_text: dict | str) -> list[str]:
    """Validate and check the refusal: exit 2, no traceback, each line names the file and a line."""
    text = track_or_text if isinstance(track_or_text, str) else dump(track_or_text)
    code, lines, path = validate(text)
    assert code == 2, lines
    assert lines and not any("Traceback" in line for line in lines)
    for line in lines:
        assert line.startswith(f"kdbench: error: {path}: "), line
        assert re.search(r"\(line \d+\)|: line \d+, column \d+", line), line
    return lines


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=20))
junk = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=5), scalars,
                                                                         max_size=2))
non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
odd_key = st.from_regex(r"x_[a-z0-9_]{0,12}", fullmatch=True)


@FUZZ
@given(loc=st.sampled_from(STRINGS), value=st.one_of(st.booleans(), st.integers(),
                                                    st.floats(), st.lists(st.text(max_size=3), max_size=2)))
def test_non_strings_where_strings_go(loc, value) -> None:
    assert_refused(put(TINY_TRACK, loc, value))


@FUZZ
@given(loc=st.sampled_from(INTS), value=st.one_of(st.booleans(), st.text(max_size=10),
                                                 st.floats(),  # strict: even 2.0 is no integer
                                                 st.lists(st.integers(), min_size=1, max_size=2)))
def test_wrong_types_where_integers_go(loc, value) -> None:
    assert_refused(put(TINY_TRACK, loc, value))


@FUZZ
@given(loc=st.sampled_from(FLOATS), value=st.one_of(st.booleans(), st.text(max_size=10), st.none(),
                                                   st.dictionaries(st.text(max_size=3), st.integers(),
                                                                   max_size=2)))
def test_wrong_types_where_numbers_go(loc, value) -> None:
    assert_refused(put(TINY_TRACK, loc, value))


@FUZZ
@given(loc=st.sampled_from([loc for loc, _ in PATHS]), value=non_finite)
def test_non_finite_numbers_anywhere(loc, value) -> None:
    assert_refused(put(TINY_TRACK, loc, value))


@FUZZ
@given(data=st.data())
def test_out_of_bound_and_huge_numbers(data) -> None:
    loc = data.draw(st.sampled_from(sorted(BOUNDED, key=str) + INTS))
    low, high = BOUNDED.get(loc, (-(2**63), 2**63))
    value = data.draw(st.one_of(st.integers(max_value=low - 1), st.integers(min_value=high + 1),
                                st.integers(min_value=2**64)))
    assert_refused(put(TINY_TRACK, loc, value))


@FUZZ
@given(loc=st.sampled_from(MAPPINGS), key=odd_key, value=junk)
def test_unknown_keys(loc, key, value) -> None:
    assert_refused(put(TINY_TRACK, (*loc, key), value))


@FUZZ
@given(loc=st.sampled_from(NAMES), name=st.text(min_size=1, max_size=20))
def test_unknown_names(loc, name) -> None:
    assert_refused(put(TINY_TRACK, loc, f"zz-{name}"))


@FUZZ
@given(loc=st.sampled_from(REQUIRED))
def test_deleted_required_fields(loc) -> None:
    assert_refused(drop(TINY_TRACK, loc))


@FUZZ
@given(loc=st.sampled_from(NOT_STRINGS), value=st.text(max_size=30))
def test_random_strings_at_random_paths(loc, value) -> None:
    assert_refused(put(TINY_TRACK, loc, value))


KEY_LINES = [i for i, line in enumerate(yaml.safe_dump(TINY_TRACK, sort_keys=False).splitlines())
             if re.fullmatch(r"\s*(- )?[\w.]+:.*", line)]


@FUZZ
@given(index=st.sampled_from(KEY_LINES),
       value=st.one_of(st.none(), st.booleans(), st.integers(), st.from_regex(r"[a-z]{1,8}", fullmatch=True)))
def test_duplicate_keys_in_raw_yaml(index, value) -> None:
    lines = yaml.safe_dump(TINY_TRACK, sort_keys=False).splitlines()
    indent, item, key = re.fullmatch(r"(\s*)(- )?([\w.]+):.*", lines[index]).groups()
    repeat = f"{indent}{'  ' if item else ''}{key}: {yaml.safe_dump(value).splitlines()[0]}"
    lines.insert(index + 1 if item else index, repeat)  # before a key whose value is a block
    lines = assert_refused("\n".join(lines) + "\n")
    assert any(f"duplicate key '{key}'" in line for line in lines), lines


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(epochs=st.integers(3, MAX_EPOCHS), batch=st.integers(1, MAX_BATCH),
       lr=st.floats(1e-6, 10), momentum=st.floats(0, 0.99),
       seeds=st.lists(st.integers(0, MAX_SEED), min_size=1, max_size=4, unique=True),
       hidden=st.lists(st.integers(1, 2**17), min_size=1, max_size=3),
       title=st.text(min_size=1, max_size=40), temperature=st.floats(0.1, 100))
def test_in_bound_changes_still_validate(epochs, batch, lr, momentum, seeds, hidden, title,
                                         temperature) -> None:
    track = copy.deepcopy(TINY_TRACK)
    track["student_recipe"].update(epochs=epochs, batch_size=batch, lr=lr, momentum=momentum)
    track["teachers"][0]["model"]["params"]["hidden"] = hidden
    track["methods"][1]["params"] = {"temperature": temperature}
    track.update(seeds=seeds, title=title)
    code, lines, _ = validate(dump(track))
    assert (code, lines) == (0, [])
