"""The plugin manager against real entry points: distributions written into a temporary folder
on sys.path, each with a ``*.dist-info`` holding METADATA and entry_points.txt."""

from __future__ import annotations

import logging
import re
import textwrap
from pathlib import Path

import pytest

from kdbench.cli import main
from kdbench.errors import PluginError, UnknownNameError
from kdbench.plugins import PluginManager, get_plugin_manager

GOOD = """
    from pydantic import BaseModel
    from kdbench import MethodInfo, hookimpl
    from kdbench.methods.kd import KD, KDParams

    @hookimpl
    def kdbench_methods():
        return [MethodInfo("{method}", "a third-party method", KD, KDParams)]
"""


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Install a fake distribution: ``install("dist", {"module": source}, {"ep": "module"})``."""
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

    return install


def test_builtins_arrive_through_the_entry_point(pm: PluginManager) -> None:
    assert {"ce", "kd", "eskd"} <= set(pm.methods.names())
    assert {"lenet5", "mlp"} <= set(pm.models.names())
    assert {"digits", "mnist-5k"} <= set(pm.datasets.names())
    assert "quickstart" in pm.tracks.names()
    assert pm.methods.find("kd").distribution.startswith("kdbench ")
    assert pm.methods.find("kd").plugin == "builtin"


def test_third_party_method_is_listed_with_its_distribution(install) -> None:
    install("kdbench-extra", {"kdbench_extra": GOOD.format(method="kd-extra")},
            {"extra": "kdbench_extra"})
    pm = PluginManager()
    pm.load_entrypoints()
    assert pm.methods.find("kd-extra").distribution == "kdbench-extra 0.1"
    assert not pm.failures


def test_plugin_that_raises_at_import_is_reported_and_skipped(install, caplog) -> None:
    install("kdbench-broken", {"kdbench_broken": "raise RuntimeError('boom at import')"},
            {"broken": "kdbench_broken"})
    pm = PluginManager()
    with caplog.at_level(logging.WARNING, logger="kdbench.plugins"):
        pm.load_entrypoints()
    assert [f.plugin for f in pm.failures] == ["broken"]
    assert "kdbench-broken 0.1" in str(pm.failures[0])
    assert "RuntimeError: boom at import" in str(pm.failures[0])
    assert "broken" in caplog.text and "\n" not in caplog.records[0].getMessage()
    assert {"ce", "kd", "eskd"} <= set(pm.methods.names())


def test_strict_mode_makes_a_broken_plugin_fatal(install, monkeypatch) -> None:
    install("kdbench-broken", {"kdbench_broken": "import no_such_module_here"},
            {"broken": "kdbench_broken"})
    with pytest.raises(PluginError, match="broken.*kdbench-broken"):
        PluginManager(strict=True).load_entrypoints()
    monkeypatch.setenv("KDBENCH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="strict"):
        get_plugin_manager()


def test_hook_that_raises_is_skipped_but_other_hooks_of_others_work(install) -> None:
    source = """
        from kdbench import hookimpl
        @hookimpl
        def kdbench_methods():
            raise ValueError("cannot list methods")
    """
    install("kdbench-raises", {"kdbench_raises": source}, {"raises": "kdbench_raises"})
    pm = PluginManager()
    pm.load_entrypoints()
    assert "kd" in pm.methods.names()
    assert pm.failures and "kdbench_methods raised ValueError" in pm.failures[0].reason


def test_misspelt_hook_is_reported(install) -> None:
    source = """
        from kdbench import hookimpl
        @hookimpl
        def kdbench_method():
            return []
    """
    install("kdbench-typo", {"kdbench_typo": source}, {"typo": "kdbench_typo"})
    pm = PluginManager()
    pm.load_entrypoints()
    assert pm.failures and "kdbench_method" in pm.failures[0].reason
    assert "typo" not in dict(pm.list_name_plugin())


def test_hook_returning_the_wrong_type_is_reported(install) -> None:
    source = """
        from kdbench import hookimpl
        @hookimpl
        def kdbench_models():
            return ["not a ModelInfo"]
    """
    install("kdbench-wrong", {"kdbench_wrong": source}, {"wrong": "kdbench_wrong"})
    pm = PluginManager()
    pm.load_entrypoints()
    assert "lenet5" in pm.models.names()
    assert "not ModelInfo" in pm.failures[0].reason


def test_same_name_twice_is_an_error_naming_both_distributions(install) -> None:
    install("kdbench-clash", {"kdbench_clash": GOOD.format(method="kd")}, {"clash": "kdbench_clash"})
    pm = PluginManager()
    pm.load_entrypoints()
    with pytest.raises(PluginError) as error:
        pm.catalog("methods")
    assert "kdbench-clash 0.1" in str(error.value) and "kdbench 0." in str(error.value)


def test_disabled_plugins_are_not_loaded(install, monkeypatch) -> None:
    install("kdbench-broken", {"kdbench_broken": "raise RuntimeError('boom')"},
            {"broken": "kdbench_broken"})
    monkeypatch.setenv("KDBENCH_DISABLE_PLUGINS", "broken, other")
    pm = get_plugin_manager()
    assert not pm.failures
    assert "kd" in pm.methods.names()


def test_unknown_name_suggests_close_ones(pm: PluginManager) -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'eskd'"):
        pm.methods.get("esdk")
    with pytest.raises(UnknownNameError, match="unknown dataset 'mnist5k'; did you mean 'mnist-5k'"):
        pm.datasets.get("mnist5k")


def test_cli_lists_methods_and_survives_a_broken_plugin(install, capsys) -> None:
    install("kdbench-broken", {"kdbench_broken": "raise RuntimeError('boom')"},
            {"broken": "kdbench_broken"})
    assert main(["list", "methods"]) == 0
    out, err = capsys.readouterr()
    for name in ("ce", "kd", "eskd"):
        assert f"\n{name} " in out
    assert "kdbench: warning: plugin 'broken' (kdbench-broken 0.1) skipped" in err
    assert "Traceback" not in err


def test_cli_strict_plugins_fails_with_exit_2(install, capsys) -> None:
    install("kdbench-broken", {"kdbench_broken": "raise RuntimeError('boom')"},
            {"broken": "kdbench_broken"})
    assert main(["--strict-plugins", "list", "methods"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kdbench: error: plugin 'broken'") and "Traceback" not in err


def test_doctor_lists_broken_plugins(install, capsys) -> None:
    install("kdbench-broken", {"kdbench_broken": "raise RuntimeError('boom')"},
            {"broken": "kdbench_broken"})
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"builtin \(kdbench [^)]+\): [1-9]\d* methods, [1-9]\d* models", out)
    assert "BROKEN plugin 'broken' (kdbench-broken 0.1)" in out
