"""SP: golden values against the formula and its properties."""

from __future__ import annotations

import math

import pytest
import torch

from kdbench.methods.sp import SPParams, sp_loss

from .feature_helpers import draw, tensor
from .reference import similarity_preserving


def test_sp_loss_matches_the_formula() -> None:
    student, teacher = draw(0, 4, 3, 2, 2), draw(1, 4, 7, 1, 1)  # any shapes: features are flattened
    got = sp_loss([tensor(student)], [tensor(teacher)])
    assert got.item() == pytest.approx(similarity_preserving(student, teacher), rel=1e-10)


def test_sp_loss_by_hand() -> None:
    # G_s = I; G_t = all ones, rows normalized to 1/sqrt 2: (2 (1 - 1/sqrt2)^2 + 2 / 2) / 2^2
    student, teacher = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    expected = (2 * (1 - 1 / math.sqrt(2)) ** 2 + 1) / 4
    assert sp_loss([student], [teacher]).item() == pytest.approx(expected, rel=1e-6)


def test_sp_loss_is_zero_for_equal_and_for_scaled_features() -> None:
    features = tensor(draw(2, 5, 6))
    assert sp_loss([features], [features.clone()]).item() == 0.0
    assert sp_loss([4 * features], [features]).item() == pytest.approx(0.0, abs=1e-15)
    assert sp_loss([features], [tensor(draw(3, 5, 6))]).item() > 0


def test_defaults_are_repdistillers() -> None:
    assert SPParams().sp_weight == 3000.0 and SPParams().ce_weight == 1.0
