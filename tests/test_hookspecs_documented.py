"""Every hook that kdbench's plugin manager calls is documented and tested (datasette's rule),
checked from the manager's own hook specifications, not from the module that declares them:
CONTRIBUTING.md carries each hook's signature and no other, each hookspec's docstring has an
example, and ``tests/test_hooks.py`` defines a ``test_hook_<name>`` for each hook and no other."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from kdbench.plugins import PluginManager

ROOT = Path(__file__).resolve().parents[1]
HOOK_TESTS = ROOT / "tests" / "test_hooks.py"


def hooks() -> dict[str, str]:
    """Each hook the plugin manager calls, with its signature as CONTRIBUTING writes it."""
    found = {}
    for name, caller in vars(PluginManager().hook).items():
        spec = getattr(caller, "spec", None)
        if spec is not None:
            parameters = ", ".join(inspect.signature(spec.function).parameters)
            returns = spec.function.__annotations__.get("return", "None")
            found[name] = f"{name}({parameters}) -> {returns}"
    return dict(sorted(found.items()))


def test_the_manager_calls_the_documented_kinds_of_hooks() -> None:
    assert {"kdbench_methods", "kdbench_models", "kdbench_datasets"} <= set(hooks())


@pytest.mark.parametrize("name", hooks())
def test_contributing_carries_the_signature(name: str) -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert f"`{hooks()[name]}`" in text, f"CONTRIBUTING.md does not show `{hooks()[name]}`"


def test_contributing_documents_no_other_hook() -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(kdbench_\w+)\(", text))
    assert documented == set(hooks())


@pytest.mark.parametrize("name", hooks())
def test_the_docstring_has_an_example(name: str) -> None:
    spec = getattr(PluginManager().hook, name).spec
    doc = inspect.getdoc(spec.function) or ""
    assert "Example::" in doc and "@hookimpl" in doc, f"the docstring of hook {name} has no example"


def test_each_hook_has_its_own_test_and_no_test_names_a_missing_hook() -> None:
    tree = ast.parse(HOOK_TESTS.read_text(encoding="utf-8"))
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert {f"test_hook_{name}" for name in hooks()} == {n for n in defined if n.startswith("test_hook_")}
