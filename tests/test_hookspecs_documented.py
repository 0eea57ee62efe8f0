"""Every hook a plugin can implement is documented where plugin authors look: a docstring with an
example in ``kdbench/hookspecs.py``, a mention in CONTRIBUTING.md, and a test that exercises it.
A new hookspec fails here until all three exist."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from kdbench import hookspecs
from kdbench.plugins import PluginManager

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
THIS = Path(__file__).resolve()


def hookspec_names() -> list[str]:
    """The functions that ``kdbench.hookspecs`` marks as hook specifications."""
    return sorted(name for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
                  if hasattr(function, "kdbench_spec"))


def test_the_hookspecs_are_the_plugin_managers_hooks() -> None:
    names = hookspec_names()
    assert names, "no hookspec found in kdbench/hookspecs.py"
    manager = PluginManager()
    assert all(hasattr(manager.hook, name) for name in names)


@pytest.mark.parametrize("name", hookspec_names())
def test_the_docstring_has_an_example(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert doc.strip(), f"hookspec {name} has no docstring"
    assert "Example" in doc, f"the docstring of hookspec {name} has no 'Example'"


@pytest.mark.parametrize("name", hookspec_names())
def test_contributing_mentions_it(name: str) -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert re.search(rf"\b{name}\b", text), f"CONTRIBUTING.md does not mention hook {name}"


@pytest.mark.parametrize("name", hookspec_names())
def test_a_test_exercises_it(name: str) -> None:
    sources = [path for path in TESTS.rglob("*.py") if path.resolve() != THIS]
    users = [path for path in sources if re.search(rf"\b{name}\b", path.read_text(encoding="utf-8"))]
    assert users, f"no test under tests/ (other than this one) mentions hook {name}"
