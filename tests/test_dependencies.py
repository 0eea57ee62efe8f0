"""Every package that kdbench imports is declared in pyproject.toml: at module level among the
dependencies, inside a function (an optional feature) among them or the optional ones. CI installs
only what is declared, so an undeclared import works here and breaks for users."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]


def normalized(requirement: str) -> str:
    """The distribution name of a requirement, normalized as PEP 503 does."""
    name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip()).group(0)
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> tuple[set[str], set[str]]:
    """(required, optional) distribution names of kdbench's pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    optional = {normalized(r) for extra in project.get("optional-dependencies", {}).values() for r in extra}
    return {normalized(r) for r in project["dependencies"]}, optional


def imports() -> dict[str, bool]:
    """Each top-level package that kdbench/ imports, and whether any import of it is at module level."""
    found: dict[str, bool] = {}
    for path in sorted((ROOT / "kdbench").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            absolute = isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if absolute else [])
            for name in names:
                top = name.split(".")[0]
                found[top] = found.get(top, False) or id(node) in module_level
    return {name: top for name, top in found.items()
            if name not in sys.stdlib_module_names and name not in {"kdbench", "__future__"}}


def distributions(package: str) -> set[str]:
    return {normalized(d) for d in packages_distributions().get(package, [package])}


@pytest.mark.parametrize(("package", "module_level"), sorted(imports().items()))
def test_every_imported_package_is_declared(package: str, module_level: bool) -> None:
    required, optional = declared()
    allowed = required if module_level else required | optional
    assert distributions(package) & allowed, (
        f"kdbench imports {package!r} ({', '.join(sorted(distributions(package)))}) but pyproject.toml "
        f"does not declare it{'' if module_level else ' (not even as optional)'}")


def test_the_scan_sees_the_packages_kdbench_is_built_on() -> None:
    assert {"torch", "pluggy", "pydantic", "yaml", "PIL", "scipy"} <= set(imports())
