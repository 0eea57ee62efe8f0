"""The plugin manager against real entry points: distributions written into a temporary folder
on sys.path, each with a ``*.dist-info`` holding METADATA and entry_points.txt."""

from __future__ import annotations

import logging
import re

import pytest

from kdbench.cli import main
from kdbench.errors import PluginError, UnknownNameError
from kdbench.plugins import Conflict, PluginManager, Registered, get_plugin_manager, shared_name
from kdbench.types import MethodInfo, ModelInfo

GOOD = """
    from pydantic import BaseModel
    from kdbench import MethodInfo, hookimpl
    from kdbench.methods.kd import KD, KDParams

    @hookimpl
    def kdbench_methods():
        return [MethodInfo("{method}", "a third-party method", KD, KDParams)]
"""


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


def test_same_name_twice_is_a_conflict_where_the_name_is_used(install, caplog) -> None:
    install("kdbench-clash", {"kdbench_clash": GOOD.format(method="kd")}, {"clash": "kdbench_clash"})
    pm = PluginManager()
    pm.load_entrypoints()
    with caplog.at_level(logging.WARNING, logger="kdbench.plugins"):
        assert pm.methods.get("eskd").name == "eskd"  # the other names keep working
    warning = [r.getMessage() for r in caplog.records]
    assert len(warning) == 1 and "\n" not in warning[0]
    for text in (warning[0], str(pm.conflicts[0])):
        assert "method 'kd' is provided twice" in text
        assert "plugin 'builtin' (kdbench 0." in text and "plugin 'clash' (kdbench-clash 0.1)" in text
        assert text.endswith("set KDBENCH_DISABLE_PLUGINS=clash")
    assert "kd" not in pm.methods.names()
    with pytest.raises(PluginError, match="KDBENCH_DISABLE_PLUGINS=clash"):
        pm.methods.get("kd")


def test_a_name_of_three_plugins_suggests_disabling_all_but_one() -> None:
    providers = tuple(Registered(MethodInfo("x", "", print), plugin, f"kdbench-{plugin} 1.0")
                      for plugin in ("a", "b", "c"))
    assert str(Conflict("methods", "x", providers)) == (
        "method 'x' is provided 3 times: by plugin 'a' (kdbench-a 1.0), by plugin 'b' (kdbench-b 1.0) "
        "and by plugin 'c' (kdbench-c 1.0); to use the one from 'a', set KDBENCH_DISABLE_PLUGINS=b,c")


def test_conflict_is_fatal_in_strict_mode(install) -> None:
    install("kdbench-clash", {"kdbench_clash": GOOD.format(method="kd")}, {"clash": "kdbench_clash"})
    pm = PluginManager(strict=True)
    pm.load_entrypoints()
    with pytest.raises(PluginError, match="'kd' is provided twice.*strict"):
        pm.methods.get("eskd")


def test_conflict_leaves_commands_working_and_a_track_using_it_fails(install, capsys, tiny_track,
                                                                     write_track) -> None:
    install("kdbench-clash", {"kdbench_clash": GOOD.format(method="kd")}, {"clash": "kdbench_clash"})
    assert main(["list", "methods"]) == 0
    out, err = capsys.readouterr()
    assert "\neskd " in out and "\nkd " not in out
    assert "kdbench: warning: method 'kd' is provided twice" in err

    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"CONFLICT method 'kd' is provided twice: .*KDBENCH_DISABLE_PLUGINS=clash\n", out)

    tiny_track["methods"] = [{"name": "ce"}, {"name": "kd"}]
    path = write_track(tiny_track)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert re.search(rf"{re.escape(str(path))}: methods\.1\.name \(line \d+\): method 'kd' is "
                     r"provided twice: .*set KDBENCH_DISABLE_PLUGINS=clash\n", err)

    tiny_track["methods"] = [{"name": "ce"}]
    assert main(["validate", str(write_track(tiny_track))]) == 0


def test_a_plugin_without_hooks_is_reported(install, capsys) -> None:
    install("kdbench-empty", {"kdbench_empty": "def kdbench_methods():\n    return []\n"},
            {"empty": "kdbench_empty"})
    assert main(["list", "methods"]) == 0
    err = capsys.readouterr().err
    assert err == ("kdbench: warning: plugin 'empty' (kdbench-empty 0.1) skipped: registers no "
                   "kdbench hook (no function marked @kdbench.hookimpl)\n")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "BROKEN plugin 'empty' (kdbench-empty 0.1) skipped: registers no kdbench hook" in out
    assert "  empty (" not in out
    assert main(["list", "methods", "--strict-plugins"]) == 2
    assert "error: plugin 'empty' (kdbench-empty 0.1) skipped: registers no" in capsys.readouterr().err


def test_disabled_plugins_are_not_loaded(install, monkeypatch) -> None:
    install("kdbench-broken", {"kdbench_broken": "raise RuntimeError('boom')"},
            {"broken": "kdbench_broken"})
    monkeypatch.setenv("KDBENCH_DISABLE_PLUGINS", "broken, other")
    pm = get_plugin_manager()
    assert not pm.failures
    assert "kd" in pm.methods.names()
    assert pm.disabled == {"broken": "kdbench-broken 0.1"}


def test_doctor_shows_disabled_plugins_as_disabled(install, monkeypatch, capsys) -> None:
    install("kdbench-broken", {"kdbench_broken": "raise RuntimeError('boom')"},
            {"broken": "kdbench_broken"})
    monkeypatch.setenv("KDBENCH_DISABLE_PLUGINS", "broken,no-such-plugin")
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "  broken (kdbench-broken 0.1): disabled by KDBENCH_DISABLE_PLUGINS\n" in out
    assert "  no-such-plugin (no plugin of that name is installed): disabled by" in out
    assert "BROKEN" not in out and "(?)" not in out


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


@pytest.mark.parametrize("argv", [["--strict-plugins", "list", "methods"],
                                  ["list", "--strict-plugins", "methods"],
                                  ["list", "methods", "--strict-plugins"],
                                  ["--strict-plugins", "doctor", "--strict-plugins"]])
def test_cli_strict_plugins_fails_with_exit_2(install, capsys, argv) -> None:
    install("kdbench-broken", {"kdbench_broken": "raise RuntimeError('boom')"},
            {"broken": "kdbench_broken"})
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("kdbench: error: plugin 'broken'") and "Traceback" not in err


def test_strict_plugins_is_off_unless_given(install, capsys) -> None:
    install("kdbench-broken", {"kdbench_broken": "raise RuntimeError('boom')"},
            {"broken": "kdbench_broken"})
    assert main(["list", "methods"]) == 0
    assert "warning: plugin 'broken'" in capsys.readouterr().err


def test_doctor_lists_broken_plugins(install, capsys) -> None:
    install("kdbench-broken", {"kdbench_broken": "raise RuntimeError('boom')"},
            {"broken": "kdbench_broken"})
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"builtin \(kdbench [^)]+\): [1-9]\d* methods, [1-9]\d* models", out)
    assert "BROKEN plugin 'broken' (kdbench-broken 0.1)" in out


def test_doctor_lists_a_plugin_whose_hook_raises_once_as_broken(install, capsys) -> None:
    source = """
        from kdbench import MethodInfo, hookimpl
        from kdbench.methods.kd import KD, KDParams

        @hookimpl
        def kdbench_methods():
            return [MethodInfo("kd-half", "works", KD, KDParams)]

        @hookimpl
        def kdbench_tracks():
            raise ValueError("cannot list tracks")
    """
    install("kdbench-half", {"kdbench_half": source}, {"half": "kdbench_half"})
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if "half" in line] == [
        "  BROKEN plugin 'half' (kdbench-half 0.1) skipped: kdbench_tracks raised ValueError: "
        "cannot list tracks"]
    pm = get_plugin_manager()
    assert "kd-half" not in pm.methods.names()  # skipped as a whole


def test_unknown_family_name_suggests_the_naming_pattern(install, pm: PluginManager) -> None:
    with pytest.raises(UnknownNameError) as error:
        pm.models.get("wrn")
    assert "did you mean 'wrn-{depth}-{k}' (e.g. 'wrn-40-2')?" in str(error.value)
    source = r"""
        from kdbench import ModelInfo, hookimpl

        @hookimpl
        def kdbench_models():
            return [ModelInfo("convnet", "a plain conv net", print,
                              pattern=r"convnet-(?P<depth>\d+)", example="convnet-4")]
    """
    install("kdbench-convnet", {"kdbench_convnet": source}, {"convnet": "kdbench_convnet"})
    manager = PluginManager()
    manager.load_entrypoints()
    with pytest.raises(UnknownNameError) as error:
        manager.models.get("convnet")
    message = str(error.value)
    assert message.startswith("unknown model 'convnet'; did you mean 'convnet-{depth}' "
                              "(e.g. 'convnet-4')?")
    assert "'convnet'?" not in message
    assert manager.models.get("convnet-6").name == "convnet"


PARTLY_MARKED = """
    from kdbench import hookimpl


    def kdbench_methods():
        return []


    @hookimpl
    def kdbench_tracks():
        return []
"""


def test_a_hook_without_its_marker_is_named(install, capsys) -> None:
    install("kdbench-partly", {"kdbench_partly": PARTLY_MARKED}, {"partly": "kdbench_partly"})
    assert main(["list", "methods"]) == 0
    assert ("plugin 'partly' (kdbench-partly 0.1): kdbench_methods is not marked "
            "@kdbench.hookimpl, so kdbench ignores it") in capsys.readouterr().err


def test_a_misspelt_hook_is_named_with_the_right_name(install, capsys) -> None:
    install("kdbench-typo", {"kdbench_typo": PARTLY_MARKED.replace(
        "def kdbench_tracks", "def kdbench_track")}, {"typo": "kdbench_typo"})
    assert main(["list", "methods"]) == 0
    assert ("'kdbench_track' is marked @kdbench.hookimpl but is no kdbench hook; did you mean "
            "'kdbench_tracks'?") in capsys.readouterr().err


def test_an_unknown_name_mentions_a_plugin_that_was_skipped(install, capsys) -> None:
    install("kdbench-broken", {"kdbench_broken": "import no_such_module\n"}, {"broken": "kdbench_broken"})
    assert main(["show", "my-track"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len([line for line in err if "error" in line]) == 1
    assert "unknown track 'my-track'" in err[-1]
    assert "plugin 'broken' (kdbench-broken 0.1) was skipped" in err[-1]


FAMILY = """
    from kdbench.plugin import ModelInfo, hookimpl
    from kdbench.models.mlp import build_mlp

    @hookimpl
    def kdbench_models():
        return [ModelInfo("{name}", "a third-party family", build_mlp, pattern=r"{pattern}",
                          example="{example}")]
"""


def test_a_name_pattern_that_overlaps_another_plugins_is_a_conflict(install, caplog) -> None:
    install("kdbench-wide", {"kdbench_wide": FAMILY.format(name="wide", pattern=r"wrn-\d+-\d+",
                                                           example="wrn-10-1")}, {"wide": "kdbench_wide"})
    install("kdbench-tiny", {"kdbench_tiny": FAMILY.format(name="tiny", pattern=r"tiny-\d+",
                                                           example="tiny-3")}, {"tiny": "kdbench_tiny"})
    pm = PluginManager()
    pm.load_entrypoints()
    with caplog.at_level(logging.WARNING, logger="kdbench.plugins"):
        assert pm.models.find("tiny-7").plugin == "tiny"  # a family that overlaps none works
    [conflict] = pm.conflicts
    assert "model 'wrn-40-2' is provided twice: by plugin 'builtin'" in str(conflict)
    assert str(conflict).endswith("set KDBENCH_DISABLE_PLUGINS=wide") and conflict.name in caplog.text
    for name in ("wrn-16-2", "wrn-10-1"):
        with pytest.raises(PluginError, match="plugin 'wide' \\(kdbench-wide 0.1\\)"):
            pm.models.get(name)
    with pytest.raises(PluginError, match="provided twice.*strict"):
        strict = PluginManager(strict=True)
        strict.load_entrypoints()
        strict.models.get("tiny-3")


@pytest.mark.parametrize(("a", "b", "shared"), [
    (ModelInfo("wrn", "", print, pattern=r"wrn-\d+-\d+", example="wrn-16-2"),
     ModelInfo("w", "", print, pattern=r"wrn-16-\d+", example="wrn-16-8"), "wrn-16-2"),
    (ModelInfo("resnet", "", print, pattern=r"resnet\d+", example="resnet56"),
     ModelInfo("resnet18", "", print), "resnet18"),
    (ModelInfo("resnet", "", print, pattern=r"resnet\d+", example="resnet56"),
     ModelInfo("vgg", "", print, pattern=r"vgg\d+", example="vgg13"), None),
])
def test_shared_name_comes_from_names_and_examples(a: ModelInfo, b: ModelInfo, shared: str | None) -> None:
    assert shared_name(a, b) == shared and (shared_name(b, a) is None) == (shared is None)
