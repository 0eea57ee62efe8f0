"""AT: golden values against the formula, its properties, and the distiller's term."""

from __future__ import annotations

import math

import pytest
import torch

from kdbench.methods.at import AT, ATParams, at_loss
from kdbench.methods.taps import probe_all

from .conftest import first_batch, lenet_pair, tiny_data
from .feature_helpers import draw, tensor
from .reference import attention_transfer


def test_at_loss_matches_the_formula_with_pooling_across_sizes() -> None:
    student = [draw(0, 3, 4, 8, 8), draw(1, 3, 8, 4, 4)]
    teacher = [draw(2, 3, 6, 4, 4), draw(3, 3, 5, 4, 4)]  # the first pair: 8x8 pooled to 4x4
    got = at_loss([tensor(f) for f in student], [tensor(f) for f in teacher])
    assert got.item() == pytest.approx(attention_transfer(student, teacher), rel=1e-10)
    got = at_loss([tensor(f) for f in student], [tensor(f) for f in teacher], p=4.0)
    assert got.item() == pytest.approx(attention_transfer(student, teacher, p=4.0), rel=1e-10)


def test_at_loss_by_hand() -> None:
    # Q_s = (1, 0), Q_t = (1, 1) / sqrt 2: mean((1 - 1/sqrt2)^2, 1/2) = 1 - 1/sqrt 2
    student, teacher = torch.tensor([[[[1.0, 0.0]]]]), torch.tensor([[[[1.0, -1.0]]]])
    assert at_loss([student], [teacher]).item() == pytest.approx(1 - 1 / math.sqrt(2), rel=1e-6)


def test_at_loss_is_zero_for_equal_and_for_scaled_maps() -> None:
    maps = tensor(draw(4, 2, 3, 4, 4))
    assert at_loss([maps], [maps.clone()]).item() == 0.0
    assert at_loss([3 * maps], [maps]).item() == pytest.approx(0.0, abs=1e-15)  # attention is normalized
    assert at_loss([maps], [tensor(draw(5, 2, 3, 4, 4))]).item() > 0


def test_the_term_is_the_weighted_loss_on_the_stages_maps() -> None:
    data = tiny_data()
    distiller = AT(*lenet_pair(data), ATParams(at_weight=10.0))
    distiller.prepare(data)
    batch = first_batch(data)
    terms = distiller(batch, 0)
    student = probe_all(distiller.student, ["conv1", "conv2"], batch.images)
    teacher = probe_all(distiller.teacher, ["conv1", "conv2"], batch.images)
    expected = 10.0 * at_loss(list(student.values()), list(teacher.values()))
    assert terms["at"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_defaults_are_repdistillers() -> None:
    assert ATParams().model_dump() == {"ce_weight": 1.0, "kd_weight": 0.0, "temperature": 4.0,
                                       "student_taps": None, "teacher_taps": None,
                                       "at_weight": 1000.0, "p": 2.0}
