"""PKT: golden values against the formula and its properties."""

from __future__ import annotations

import pytest
import torch

from kdbench.methods.pkt import PKTParams, pkt_loss

from .feature_helpers import draw, tensor
from .reference import probabilistic_transfer


def test_pkt_loss_matches_the_formula() -> None:
    student, teacher = draw(0, 5, 4), draw(1, 5, 8)
    assert pkt_loss(tensor(student), tensor(teacher)).item() == pytest.approx(
        probabilistic_transfer(student, teacher), rel=1e-10)


def test_pkt_loss_is_zero_for_equal_and_for_scaled_features() -> None:
    features = tensor(draw(2, 6, 3))
    assert pkt_loss(features, features.clone()).item() == 0.0
    assert pkt_loss(2 * features, features).item() == pytest.approx(0.0, abs=1e-12)  # cosines only
    assert pkt_loss(features, tensor(draw(3, 6, 3))).item() > 0


def test_a_zero_feature_gives_zero_similarity_not_nan() -> None:
    features = tensor(draw(4, 3, 4))
    features[1] = 0.0
    loss = pkt_loss(features, tensor(draw(5, 3, 4)))
    assert torch.isfinite(loss)


def test_defaults_are_repdistillers() -> None:
    assert PKTParams().pkt_weight == 30000.0 and PKTParams().ce_weight == 1.0
