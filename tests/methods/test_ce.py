"""CE: golden values of the label loss, and that the baseline never touches a teacher."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kdbench.methods.ce import CE, CEParams, ce_loss

from .conftest import RaisingTeacher, first_batch, lenet_pair, tiny_data
from .reference import cross_entropy

LOGITS = [[2.0, -1.0, 0.5, 0.0], [0.1, 0.2, 0.3, -3.0], [-1.5, 4.0, 1.0, 2.0]]
LABELS = [0, 3, 1]


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
def test_ce_matches_the_formula(smoothing: float) -> None:
    expected = cross_entropy(np.array(LOGITS), np.array(LABELS), smoothing)
    got = ce_loss(torch.tensor(LOGITS, dtype=torch.float64), torch.tensor(LABELS),
                  torch.ones(len(LABELS), dtype=torch.bool), smoothing)
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_ce_of_uniform_logits_is_log_classes() -> None:
    loss = ce_loss(torch.zeros(5, 7), torch.arange(5), torch.ones(5, dtype=torch.bool))
    assert loss.item() == pytest.approx(math.log(7), rel=1e-6)


def test_ce_distiller_uses_the_labels_only() -> None:
    data = tiny_data()
    student, _ = lenet_pair(data)
    distiller = CE(student, None, CEParams())
    batch = first_batch(data)
    terms = distiller(batch, epoch=0)
    assert set(terms) == {"ce"}
    assert terms["ce"].item() == pytest.approx(ce_loss(student(batch.images), batch.labels,
                                                                    batch.label_mask).item())
    assert not distiller.uses_teacher(0)


def test_ce_ignores_a_teacher_it_is_given() -> None:
    data = tiny_data()
    student, _ = lenet_pair(data)
    distiller = CE(student, RaisingTeacher(), CEParams())
    distiller(first_batch(data), epoch=0)  # the raising teacher is never run
