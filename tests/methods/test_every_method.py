"""Every installed method keeps kdbench.testing's contract (with its defaults, and with the label
terms off, where it must then work without labels), and the built-in ones run end to end at the
smoke budget of the quickstart track through the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kdbench.plugins import get_plugin_manager
from kdbench.testing import check_method

from .conftest import run_smoke, smoke_track

FEATURE = ["at", "sp", "rkd", "pkt", "vid", "nst", "cc", "ft"]
BUILTIN = ["ce", "kd", "eskd", "hint", "crd", *FEATURE]
WITHOUT_LABELS = {"kd": {"ce_weight": 0.0}, "hint": {"ce_weight": 0.0}, "crd": {"ce_weight": 0.0},
                  "dkd": {"ce_weight": 0.0}, **{name: {"ce_weight": 0.0} for name in FEATURE}}


def installed_methods() -> list[str]:
    return get_plugin_manager().methods.names()


def test_the_builtin_methods_are_registered() -> None:
    methods = get_plugin_manager().methods
    for name in BUILTIN:
        assert methods.find(name).distribution.startswith("kdbench ")


@pytest.mark.parametrize("name", installed_methods())
def test_method_keeps_the_contract(name: str) -> None:
    check_method(name)


@pytest.mark.parametrize("name", sorted(WITHOUT_LABELS))
def test_method_without_its_label_term_needs_no_labels(name: str) -> None:
    info = get_plugin_manager().methods.get(name)
    params = info.Params.model_validate(WITHOUT_LABELS[name])
    assert not info.labels_needed(params)
    check_method(name, WITHOUT_LABELS[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILTIN)
def test_smoke_run_with_default_params(name: str, tmp_path: Path, teacher_cache: Path) -> None:
    results = run_smoke(smoke_track(tmp_path, {"name": name}), tmp_path / "results", teacher_cache)
    assert [result["status"] for result in results] == ["ok"]
    assert results[0]["spec"]["method"]["name"] == name
    history = results[0]["history"]
    assert len(history) == 2 and set(history[-1]["loss"]) >= {"ce"}
