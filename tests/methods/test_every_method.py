"""Every installed method: finite gradients on a batch with its default parameters, and the
built-in ones end to end at the smoke budget of the quickstart track through the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from kdbench.plugins import get_plugin_manager
from kdbench.specs import Recipe

from .conftest import first_batch, lenet_pair, run_smoke, smoke_track, tiny_data

BUILTIN = ["ce", "kd", "eskd", "hint", "crd"]


def installed_methods() -> list[str]:
    return get_plugin_manager().methods.names()


def test_the_builtin_methods_are_registered() -> None:
    methods = get_plugin_manager().methods
    for name in BUILTIN:
        assert methods.find(name).distribution.startswith("kdbench ")


@pytest.mark.parametrize("name", installed_methods())
def test_gradients_are_finite(name: str) -> None:
    info = get_plugin_manager().methods.get(name)
    params = info.Params.model_validate({}, context={"recipe": Recipe(epochs=4)})
    data = tiny_data()
    student, teacher = lenet_pair(data)
    distiller = info.factory(student, teacher if info.needs_teacher else None, params)
    distiller.prepare(data)
    distiller.train()
    terms = distiller(first_batch(data), epoch=0)
    loss = sum(terms.values())
    assert terms and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in distiller.trainable_parameters()]
    assert all(g is None or torch.isfinite(g).all() for g in grads)
    assert any(g is not None and g.abs().sum() > 0 for g in (p.grad for p in student.parameters()))
    assert all(p.grad is None for p in teacher.parameters())


@pytest.mark.parametrize("name", BUILTIN)
def test_smoke_run_with_default_params(name: str, tmp_path: Path, teacher_cache: Path) -> None:
    results = run_smoke(smoke_track(tmp_path, {"name": name}), tmp_path / "results", teacher_cache)
    assert [result["status"] for result in results] == ["ok"]
    assert results[0]["spec"]["method"]["name"] == name
    history = results[0]["history"]
    assert len(history) == 2 and all(value == value for e in history for value in e["loss"].values())
