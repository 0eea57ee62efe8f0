"""KD: golden values, the zero at equal logits, the T^2 factor, and the weighted terms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kdbench.methods.ce import ce_loss
from kdbench.methods.kd import KD, KDParams, kd_loss

from .conftest import first_batch, lenet_pair, tiny_data
from .reference import kd

STUDENT = [[1.0, -0.5, 2.0, 0.0], [0.3, 0.3, -1.0, 2.5], [-2.0, 1.0, 0.0, 0.5]]
TEACHER = [[3.0, -1.0, 0.5, 0.2], [0.0, 1.0, -2.0, 1.0], [-1.0, 2.0, 1.5, -0.5]]


def t64(values: list[list[float]]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0, 10.0])
def test_kd_matches_the_formula(temperature: float) -> None:
    expected = kd(np.array(STUDENT), np.array(TEACHER), temperature)
    assert kd_loss(t64(STUDENT), t64(TEACHER), temperature).item() == pytest.approx(expected, rel=1e-12)


def test_kd_golden_value_by_hand() -> None:
    # Two classes, T = 1: teacher (3/4, 1/4) from logits (log 3, 0); student uniform (1/2, 1/2).
    # KL = 3/4 log(3/2) + 1/4 log(1/2).
    teacher, student = torch.tensor([[np.log(3.0), 0.0]]), torch.zeros(1, 2)
    expected = 0.75 * np.log(1.5) + 0.25 * np.log(0.5)
    assert kd_loss(student, teacher, 1.0).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0, 20.0])
def test_kd_is_zero_when_the_student_equals_the_teacher(temperature: float) -> None:
    assert kd_loss(t64(TEACHER), t64(TEACHER), temperature).item() == pytest.approx(0.0, abs=1e-12)


def test_kd_is_invariant_to_a_shift_of_the_logits() -> None:
    shifted = t64(STUDENT) + torch.tensor([[5.0], [-3.0], [0.25]], dtype=torch.float64)
    assert kd_loss(shifted, t64(TEACHER), 4.0).item() == pytest.approx(
        kd_loss(t64(STUDENT), t64(TEACHER), 4.0).item(), rel=1e-12)


def test_kd_carries_the_t_squared_factor() -> None:
    # kd_loss / T^2 is the plain KL of the softened distributions ...
    for temperature in (2.0, 4.0, 8.0):
        plain = kd(np.array(STUDENT), np.array(TEACHER), temperature) / temperature**2
        got = kd_loss(t64(STUDENT), t64(TEACHER), temperature).item() / temperature**2
        assert got == pytest.approx(plain, rel=1e-12)
    # ... and with T^2 the loss tends to Hinton's high-temperature limit, the mean over examples of
    # sum_c ((s_c - mean s) - (t_c - mean t))^2 / (2 C): the gradient scale no longer shrinks as 1/T^2.
    s, t = np.array(STUDENT), np.array(TEACHER)
    centred = (s - s.mean(1, keepdims=True)) - (t - t.mean(1, keepdims=True))
    limit = float(np.mean(np.sum(centred**2, axis=1) / (2 * s.shape[1])))
    assert kd_loss(t64(STUDENT), t64(TEACHER), 1000.0).item() == pytest.approx(limit, rel=1e-3)


def test_kd_distiller_weighs_both_terms() -> None:
    data = tiny_data()
    student, teacher = lenet_pair(data)
    params = KDParams(ce_weight=0.3, kd_weight=0.7, temperature=2.0)
    distiller = KD(student, teacher, params)
    batch = first_batch(data)
    terms = distiller(batch, epoch=0)
    with torch.no_grad():
        logits, teacher_logits = student(batch.images), teacher(batch.images)
    assert set(terms) == {"ce", "kd"}
    expected = ce_loss(logits, batch.labels, batch.label_mask)
    assert terms["ce"].item() == pytest.approx(0.3 * expected.item(), rel=1e-5)
    assert terms["kd"].item() == pytest.approx(0.7 * kd(logits.double().numpy(),
                                                        teacher_logits.double().numpy(), 2.0), rel=1e-4)


def test_kd_defaults() -> None:
    assert KDParams().model_dump() == {"ce_weight": 0.1, "kd_weight": 0.9, "temperature": 4.0}
