"""NST: golden values against the MMD formula and its properties."""

from __future__ import annotations

import pytest

from kdbench.methods.nst import NSTParams, nst_loss

from .feature_helpers import draw, tensor
from .reference import neuron_selectivity


def test_nst_loss_matches_the_formula_with_pooling_across_sizes() -> None:
    student = [draw(0, 2, 3, 8, 8), draw(1, 2, 4, 2, 2)]
    teacher = [draw(2, 2, 5, 4, 4), draw(3, 2, 2, 2, 2)]  # the first pair: 8x8 pooled to 4x4
    got = nst_loss([tensor(f) for f in student], [tensor(f) for f in teacher])
    assert got.item() == pytest.approx(neuron_selectivity(student, teacher), rel=1e-10)


def test_nst_loss_is_zero_for_the_same_channels_in_any_order_or_scale() -> None:
    maps = tensor(draw(4, 2, 3, 4, 4))
    assert nst_loss([maps], [maps.clone()]).item() == pytest.approx(0.0, abs=1e-14)
    shuffled = 2 * maps[:, [2, 0, 1]]  # MMD compares the sets of normalized channels
    assert nst_loss([shuffled], [maps]).item() == pytest.approx(0.0, abs=1e-14)
    assert nst_loss([maps], [tensor(draw(5, 2, 3, 4, 4))]).item() > 0


def test_the_teachers_own_kernel_term_carries_no_gradient() -> None:
    student, teacher = tensor(draw(6, 2, 3, 4, 4), grad=True), tensor(draw(7, 2, 3, 4, 4), grad=True)
    nst_loss([student], [teacher]).backward()
    alone = tensor(draw(7, 2, 3, 4, 4), grad=True)
    cross = nst_loss([student.detach()], [alone])  # only -2 k(s, t) depends on the teacher
    cross.backward()
    assert teacher.grad is not None and alone.grad is not None
    assert teacher.grad.allclose(alone.grad)


def test_defaults_are_repdistillers() -> None:
    assert NSTParams().nst_weight == 50.0 and NSTParams().ce_weight == 1.0
