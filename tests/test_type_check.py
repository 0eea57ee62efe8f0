"""CI type-checks kdbench and every plugin package in this repository with mypy and its pydantic
plugin, strictly enough to mean something, exempting by name only packages that ship no types."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]


def mypy_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]


def imported_modules() -> set[str]:
    """Every absolute module name that kdbench/ and the plugin packages import."""
    found: set[str] = set()
    for path in [*ROOT.glob("kdbench/**/*.py"), *ROOT.glob("plugins/*/*/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module)
    return found


def test_ci_type_checks_right_after_linting() -> None:
    steps = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert steps[steps.index("ruff check .") + 1] == "mypy"


def test_mypy_is_strict_and_uses_the_pydantic_plugin() -> None:
    config = mypy_config()
    assert "pydantic.mypy" in config["plugins"]
    for setting in ("disallow_untyped_defs", "warn_unused_ignores", "no_implicit_optional"):
        assert config.get(setting) is True, setting
    assert "ignore_missing_imports" not in config, "exempt untyped packages by name, not all of them"


def test_mypy_checks_kdbench_and_every_plugin_package() -> None:
    files = set(mypy_config()["files"])
    packages = {str(init.parent.relative_to(ROOT)) for init in ROOT.glob("plugins/*/*/__init__.py")
                if init.parent.name != "tests"}
    assert packages and packages | {"kdbench"} <= files


def test_only_imported_untyped_packages_are_exempt() -> None:
    """An exemption for a package nothing imports, or for one that ships its own types, hides
    nothing today and would hide real errors tomorrow."""
    imported = imported_modules()
    for override in mypy_config()["overrides"]:
        for module in override["module"]:
            top = module.removesuffix(".*")
            assert any(name == top or name.startswith(top + ".") for name in imported), module
            spec = importlib.util.find_spec(top.split(".")[0])
            if spec is not None and spec.origin is not None:
                assert not (Path(spec.origin).parent / "py.typed").exists(), f"{module} ships py.typed"


def test_the_dev_extra_installs_mypy_and_the_stubs_it_needs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dev = " ".join(project["optional-dependencies"]["dev"])
    for requirement in ("mypy>=", "types-PyYAML", "types-tabulate"):
        assert requirement in dev
