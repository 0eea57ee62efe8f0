"""ESKD: KD before the stop epoch, cross-entropy alone after it, and no teacher work after it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from kdbench.engine.train import fit
from kdbench.methods.ce import ce_loss
from kdbench.methods.eskd import ESKD, ESKDParams
from kdbench.specs import Recipe

from .conftest import RaisingTeacher, first_batch, lenet_pair, tiny_data
from .reference import cross_entropy, kd


def params(recipe: Recipe, **values: float) -> ESKDParams:
    return ESKDParams.model_validate(values, context={"recipe": recipe})


def test_default_stop_is_the_first_lr_decay_or_half_the_epochs() -> None:
    assert params(Recipe(epochs=10, milestones=(3, 7))).stop_epoch == 3
    assert params(Recipe(epochs=10)).stop_epoch == 5
    assert params(Recipe(epochs=10), stop_epoch=8).stop_epoch == 8
    with pytest.raises(ValidationError, match="outside 0..10"):
        params(Recipe(epochs=10), stop_epoch=11)


def test_eskd_is_kd_before_the_stop_and_ce_after() -> None:
    data = tiny_data()
    student, teacher = lenet_pair(data)
    distiller = ESKD(student, teacher, params(Recipe(epochs=4), stop_epoch=2, ce_weight=0.2,
                                              kd_weight=0.8, temperature=3.0))
    batch = first_batch(data)
    with torch.no_grad():
        s, t = student(batch.images).double().numpy(), teacher(batch.images).double().numpy()
    labels = batch.labels.numpy()
    before = distiller(batch, epoch=1)
    assert before["ce"].item() == pytest.approx(0.2 * cross_entropy(s, labels), rel=1e-4)
    assert before["kd"].item() == pytest.approx(0.8 * kd(s, t, 3.0), rel=1e-4)
    after = distiller(batch, epoch=2)
    assert set(after) == {"ce"}  # plain CE at weight 1, not ce_weight
    assert after["ce"].item() == pytest.approx(cross_entropy(s, labels), rel=1e-4)
    assert [distiller.uses_teacher(epoch) for epoch in range(4)] == [True, True, False, False]


def test_eskd_never_calls_the_teacher_after_the_stop() -> None:
    data = tiny_data()
    student, _ = lenet_pair(data)
    distiller = ESKD(student, RaisingTeacher(), params(Recipe(epochs=3), stop_epoch=1))
    batch = first_batch(data)
    for epoch in (1, 2, 50):
        terms = distiller(batch, epoch)
        expected = ce_loss(student(batch.images), batch.labels, batch.label_mask)
        assert terms["ce"].item() == pytest.approx(expected.item())
    with pytest.raises(AssertionError, match="teacher was called"):
        distiller(batch, epoch=0)


def test_training_after_the_stop_runs_no_teacher_at_all() -> None:
    data = tiny_data()
    student, teacher = lenet_pair(data)
    calls: list[int] = []
    teacher.register_forward_hook(lambda *_: calls.append(1))
    recipe = Recipe(epochs=3, batch_size=16, lr=0.01, milestones=(1,))
    history = fit(ESKD(student, teacher, params(recipe)), data, recipe, seed=0,
                  device=torch.device("cpu"))
    assert params(recipe).stop_epoch == 1
    assert [entry["teacher"] for entry in history] == [True, False, False]
    assert len(calls) == len(data) // 16  # the batches of epoch 0, and nothing after
    assert [set(entry["loss"]) for entry in history] == [{"ce", "kd"}, {"ce"}, {"ce"}]
    assert all(np.isfinite(value) for entry in history for value in entry["loss"].values())
