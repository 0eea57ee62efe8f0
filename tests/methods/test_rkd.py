"""RKD: golden values against the distance and angle formulas and their properties."""

from __future__ import annotations

import pytest

from kdbench.methods.rkd import RKDParams, rkd_loss

from .feature_helpers import draw, tensor
from .reference import relational


def test_rkd_loss_matches_the_formula() -> None:
    student, teacher = draw(0, 5, 4), draw(1, 5, 6)
    got = rkd_loss(tensor(student), tensor(teacher))
    assert got.item() == pytest.approx(relational(student, teacher), rel=1e-9)
    got = rkd_loss(tensor(student), tensor(teacher), distance_weight=2.0, angle_weight=0.5)
    assert got.item() == pytest.approx(relational(student, teacher, 2.0, 0.5), rel=1e-9)


def test_rkd_loss_is_zero_for_equal_and_for_scaled_features() -> None:
    features = tensor(draw(2, 6, 3))
    assert rkd_loss(features, features.clone()).item() == pytest.approx(0.0, abs=1e-15)
    assert rkd_loss(5 * features, features).item() == pytest.approx(0.0, abs=1e-12)  # relations only
    assert rkd_loss(features, tensor(draw(3, 6, 3))).item() > 0


def test_the_teacher_side_carries_no_gradient() -> None:
    student, teacher = tensor(draw(4, 4, 3), grad=True), tensor(draw(5, 4, 3), grad=True)
    rkd_loss(student, teacher).backward()
    assert student.grad is not None and student.grad.abs().sum() > 0 and teacher.grad is None


def test_a_batch_of_one_has_no_relations() -> None:
    student = tensor(draw(6, 1, 3), grad=True)
    loss = rkd_loss(student, tensor(draw(7, 1, 3)))
    loss.backward()
    assert loss.item() == 0.0 and student.grad is not None


def test_defaults_are_repdistillers() -> None:
    p = RKDParams()
    assert (p.rkd_weight, p.distance_weight, p.angle_weight, p.ce_weight) == (1.0, 25.0, 50.0, 1.0)
