"""CC: golden values against RepDistiller's formula, and its embeddings."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from kdbench.methods.cc import CC, CCParams, cc_loss

from .conftest import first_batch, lenet_pair, tiny_data
from .feature_helpers import draw, tensor
from .reference import correlation


def test_cc_loss_matches_the_formula() -> None:
    student, teacher = draw(0, 6, 5), draw(1, 6, 5)
    assert cc_loss(tensor(student), tensor(teacher)).item() == pytest.approx(
        correlation(student, teacher), rel=1e-12)


def test_cc_loss_by_hand() -> None:
    # d = (1, 2), (3, 4), (0, 0): (1 * 3 + 2 * 4 + 0) / 2
    student = torch.tensor([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]])
    assert cc_loss(student, torch.zeros(3, 2)).item() == 5.5


def test_cc_loss_is_zero_for_equal_embeddings_and_a_batch_of_one() -> None:
    x = tensor(draw(2, 4, 3))
    assert cc_loss(x, x.clone()).item() == 0.0
    assert cc_loss(x[:1], tensor(draw(3, 1, 3))).item() == 0.0


def test_both_embeddings_are_trained_and_saved_with_the_student() -> None:
    data = tiny_data()
    distiller = CC(*lenet_pair(data), CCParams())
    distiller.prepare(data)
    for embed, width in ((distiller.embed_student[0], 42), (distiller.embed_teacher[0], 84)):
        linear = embed[1]
        assert isinstance(linear, nn.Linear) and (linear.in_features, linear.out_features) == (width, 128)
    sum(distiller(first_batch(data), 0).values()).backward()
    assert all(p.grad is not None for p in distiller.embed_teacher.parameters())
    assert all(p.grad is None for p in distiller.teacher.parameters())
    state = distiller.student_state_dict()
    assert any(key.startswith("embed_teacher.") for key in state)
    assert any(key.startswith("embed_student.") for key in state)


def test_defaults_are_repdistillers() -> None:
    assert (CCParams().cc_weight, CCParams().feat_dim, CCParams().ce_weight) == (0.02, 128, 1.0)
