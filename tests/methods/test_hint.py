"""Hint (FitNets): golden values, the regressor's shapes, and what is trained and saved."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from kdbench.errors import KdbenchError
from kdbench.methods.hint import Hint, HintParams, HintRegressor, hint_loss

from .conftest import first_batch, lenet_pair, tiny_data
from .reference import cross_entropy, kd


def test_hint_loss_is_the_mean_squared_error() -> None:
    a = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    b = np.array([[0.5, -1.0, 0.5], [2.0, 1.0, 1.0]])
    expected = sum((x - y) ** 2 for x, y in zip(a.flat, b.flat, strict=True)) / a.size  # 13.25 / 6
    got = hint_loss(torch.tensor(a), torch.tensor(b)).item()
    assert got == pytest.approx(expected, rel=1e-12) and got == pytest.approx(13.25 / 6)


def test_hint_loss_is_zero_on_equal_features() -> None:
    x = torch.randn(4, 3, 5, 5)
    assert hint_loss(x, x.clone()).item() == 0.0


@pytest.mark.parametrize(("student", "teacher", "out"), [
    ((2, 4, 8, 8), (2, 6, 8, 8), (2, 6, 8, 8)),   # 1x1 conv + BN
    ((2, 4, 8, 8), (2, 6, 4, 4), (2, 6, 4, 4)),   # the student's map is pooled
    ((2, 4, 4, 4), (2, 6, 8, 8), (2, 6, 4, 4)),   # the teacher's map is pooled
    ((2, 4, 8, 8), (2, 6), (2, 6)),               # map -> vector: global pooling, linear
    ((2, 4), (2, 6, 3, 3), (2, 6)),               # vector -> map: the teacher's map is pooled
    ((2, 5), (2, 7), (2, 7)),                     # linear
])
def test_the_regressor_matches_the_teacher_feature(student: tuple, teacher: tuple, out: tuple) -> None:
    regressor = HintRegressor(torch.Size(student), torch.Size(teacher))
    projected = regressor(torch.randn(student))
    target = regressor.target(torch.randn(teacher))
    assert projected.shape == target.shape == out
    assert isinstance(regressor.map[-1], nn.BatchNorm2d if len(out) == 4 else nn.Linear)


def test_the_teacher_map_is_average_pooled() -> None:
    regressor = HintRegressor(torch.Size((1, 1, 2, 2)), torch.Size((1, 1, 4, 4)))
    feature = torch.arange(16.0).view(1, 1, 4, 4)
    expected = torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]])  # means of the 2x2 blocks
    torch.testing.assert_close(regressor.target(feature), expected)


def test_an_unsupported_feature_rank_is_a_clear_error() -> None:
    with pytest.raises(KdbenchError, match=r"shape \(2, 3, 4\)"):
        HintRegressor(torch.Size((2, 3, 4)), torch.Size((2, 4)))


def test_hint_distiller_terms_match_the_formula() -> None:
    data = tiny_data()
    student, teacher = lenet_pair(data)
    params = HintParams(ce_weight=0.5, hint_weight=10.0, kd_weight=0.25, temperature=2.0,
                        student_tap="fc1", teacher_tap="fc1")
    distiller = Hint(student, teacher, params)
    distiller.prepare(data)
    batch = first_batch(data)
    terms = distiller(batch, epoch=0)
    with torch.no_grad():  # the features by hand: fc1 is the classifier's first linear + ReLU
        s_feat = student.classifier[:2](student.features(batch.images))
        t_feat = teacher.classifier[:2](teacher.features(batch.images))
        projected = distiller.regressor(s_feat).double().numpy()
        s, t = student(batch.images).double().numpy(), teacher(batch.images).double().numpy()
    mse = float(np.mean((projected - t_feat.double().numpy()) ** 2))
    assert terms["hint"].item() == pytest.approx(10.0 * mse, rel=1e-4)
    assert terms["ce"].item() == pytest.approx(0.5 * cross_entropy(s, batch.labels.numpy()), rel=1e-4)
    assert terms["kd"].item() == pytest.approx(0.25 * kd(s, t, 2.0), rel=1e-4)


def test_hint_defaults_and_the_kd_term_is_off_by_default() -> None:
    assert HintParams().model_dump() == {
        "ce_weight": 1.0, "hint_weight": 100.0, "kd_weight": 0.0, "temperature": 4.0,
        "student_tap": "penultimate", "teacher_tap": "penultimate"}
    data = tiny_data()
    distiller = Hint(*lenet_pair(data), HintParams())
    distiller.prepare(data)
    assert set(distiller(first_batch(data), 0)) == {"ce", "hint"}


def test_the_regressor_is_trained_and_saved_with_the_student() -> None:
    data = tiny_data()
    distiller = Hint(*lenet_pair(data), HintParams())
    distiller.student.train()
    distiller.prepare(data)
    assert distiller.student.training  # prepare probes in eval mode and restores the mode
    trainable = {id(p) for p in distiller.trainable_parameters()}
    assert all(id(p) in trainable for p in distiller.regressor.parameters())
    assert not any(id(p) in trainable for p in distiller.teacher.parameters())
    state = distiller.student_state_dict()
    assert any(key.startswith("regressor.") for key in state)
    assert not any(key.startswith("teacher.") for key in state)


def test_an_unknown_tap_fails_when_the_method_is_built() -> None:
    data = tiny_data()
    with pytest.raises(KdbenchError, match="no feature tap 'block9'"):
        Hint(*lenet_pair(data), HintParams(student_tap="block9"))
