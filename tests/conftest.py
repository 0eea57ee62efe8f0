"""Shared fixtures: every test gets its own cache, data and results folders and a fresh plugin
manager, so nothing leaks between tests or into the user's home."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from kdbench.plugins import PluginManager, reset_plugin_manager

TINY_TRACK = {
    "name": "tiny",
    "title": "Tiny digits track for tests",
    "dataset": {"name": "digits"},
    "teachers": [
        {"label": "mlp-64", "model": {"name": "mlp", "params": {"hidden": [64]}}},
        {"label": "mlp-128", "model": {"name": "mlp", "params": {"hidden": [128]}}},
    ],
    "students": [{"label": "mlp-16", "model": {"name": "mlp", "params": {"hidden": [16]}}}],
    "methods": [{"name": "ce"}, {"name": "kd"}, {"name": "eskd"}],
    "teacher_recipe": {"epochs": 3, "batch_size": 64, "lr": 0.05, "milestones": [2]},
    "student_recipe": {"epochs": 3, "batch_size": 64, "lr": 0.05, "milestones": [2]},
    "seeds": [0, 1],
    "budgets": {"full": {}, "smoke": {"student": {"epochs": 2, "milestones": [1]},
                                     "teacher": {"epochs": 1, "milestones": []},
                                     "train_limit": 300, "seeds": [0]}},
    "references": [{"source": "Made up for tests", "confidence": "U", "method": "kd",
                    "metrics": {"test.student_acc": 90.0}}],
}


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KDBENCH_STRICT_PLUGINS", "KDBENCH_DISABLE_PLUGINS", "KDBENCH_RESULTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KDBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KDBENCH_DATA_DIR", str(tmp_path / "data"))
    reset_plugin_manager()
    yield
    reset_plugin_manager()


@pytest.fixture
def pm() -> PluginManager:
    manager = PluginManager()
    manager.load_entrypoints()
    return manager


@pytest.fixture
def tiny_track() -> dict:
    """A deep copy of a small valid track on scikit-learn's digits."""
    return yaml.safe_load(yaml.safe_dump(TINY_TRACK, sort_keys=False))


@pytest.fixture
def write_track(tmp_path: Path):
    """Write a track mapping (or raw text) to a YAML file and return its path."""
    def write(track: dict | str, name: str = "track.yaml") -> Path:
        path = tmp_path / name
        path.write_text(track if isinstance(track, str) else yaml.safe_dump(track, sort_keys=False))
        return path
    return write


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Install a fake distribution: ``install("dist", {"module": source}, {"ep": "module"})``
    writes the modules and a ``*.dist-info`` (METADATA, entry_points.txt) into a folder on
    sys.path, so the plugin manager finds it as it finds any installed plugin."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def install(dist: str, modules: dict[str, str], entry_points: dict[str, str]) -> None:
        info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text(f"[kdbench]\n{lines}\n")
        for module, source in modules.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
            monkeypatch.delitem(sys.modules, module, raising=False)  # one a test before imported

    return install
