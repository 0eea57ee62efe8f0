"""The public plugin namespace: ``kdbench.plugin`` holds every name CONTRIBUTING documents, imports
without torch, and a plugin built for another API version is reported and skipped like any
broken plugin (tested with real entry points)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import kdbench.plugin
from kdbench.plugins import PluginManager, api_mismatch

CONTRIBUTING = Path(__file__).resolve().parents[1] / "CONTRIBUTING.md"

METHOD = """
    from kdbench.plugin import Batch, Distiller, MethodInfo, Params, ce_loss, hookimpl

    KDBENCH_API = {api!r}

    class Plain(Distiller[Params]):
        def forward(self, batch: Batch, epoch: int):
            return {{"ce": ce_loss(self.student(batch.images), batch.labels, batch.label_mask)}}

    @hookimpl
    def kdbench_methods():
        return [MethodInfo("plain", "cross-entropy", Plain, Params, needs_teacher=False)]
"""


def documented_names() -> set[str]:
    """The names in the first column of CONTRIBUTING's table of the plugin API."""
    text = CONTRIBUTING.read_text(encoding="utf-8")
    start = text.index("## The plugin API")
    table = text[start:text.index("\n## ", start + 1)]
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    return {re.match(r"\w+", name).group(0) for row in rows for name in re.findall(r"`([^`]+)`", row)}


def test_every_public_name_is_documented_and_importable() -> None:
    assert set(kdbench.plugin.__all__) == documented_names()
    for name in kdbench.plugin.__all__:
        assert getattr(kdbench.plugin, name) is not None, name
    assert kdbench.plugin.API_VERSION == "1.1"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Distillr'"):
        kdbench.plugin.Distillr  # noqa: B018


def test_the_namespace_imports_without_torch() -> None:
    code = ("import sys, kdbench.plugin as p; assert 'torch' not in sys.modules; "
            "p.hookimpl, p.MethodInfo, p.Params; assert 'torch' not in sys.modules; "
            "p.Distiller; assert 'torch' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_public_names_are_the_ones_kdbench_uses() -> None:
    from kdbench.data import Batch, ImageTensors
    from kdbench.methods import Distiller
    from kdbench.types import Params

    assert (kdbench.plugin.Batch, kdbench.plugin.ImageTensors) == (Batch, ImageTensors)
    assert (kdbench.plugin.Distiller, kdbench.plugin.Params) == (Distiller, Params)


@pytest.mark.parametrize(("declared", "problem"), [
    (None, None), ("1", None), ("1.0", None),
    ("2", "built for kdbench plugin API 2, but this kdbench provides 1.1"), ("1.1", None),
    ("0", "built for kdbench plugin API 0, but"),
    ("1.2", "built for kdbench plugin API 1.2, but"),
    (1, "KDBENCH_API must be a version string such as '1' or '1.0', not 1"),
    ("one", "not 'one'"),
])
def test_the_declared_api_version_is_checked(declared: object, problem: str | None) -> None:
    plugin = type("Plugin", (), {} if declared is None else {"KDBENCH_API": declared})
    reason = api_mismatch(plugin)
    assert reason == problem if problem is None else problem in reason


def test_a_plugin_for_another_major_version_is_reported_and_skipped(install) -> None:
    install("kdbench-future", {"kdbench_future": METHOD.format(api="2")}, {"future": "kdbench_future"})
    install("kdbench-current", {"kdbench_current": METHOD.format(api="1").replace('"plain"', '"plain1"')},
            {"current": "kdbench_current"})
    pm = PluginManager()
    pm.load_entrypoints()
    assert [(f.plugin, f.distribution) for f in pm.failures] == [("future", "kdbench-future 0.1")]
    provided = kdbench.plugin.API_VERSION
    assert f"built for kdbench plugin API 2, but this kdbench provides {provided}" in pm.failures[0].reason
    assert "plain" not in pm.methods.names() and "plain1" in pm.methods.names()


def test_the_builtin_plugin_declares_the_api_it_provides() -> None:
    import kdbench.builtin

    assert kdbench.builtin.KDBENCH_API == kdbench.plugin.API_VERSION.split(".")[0]
