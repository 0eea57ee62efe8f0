"""Metrics against values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from kdbench.engine.metrics import accuracy, agreement, ece, nll, predictive_kl, split_metrics


def test_accuracy_and_agreement() -> None:
    labels = torch.tensor([0, 1, 2, 0])
    student = torch.tensor([[5.0, 0, 0], [0, 5, 0], [5, 0, 0], [0, 0, 5]])  # right, right, wrong, wrong
    teacher = torch.tensor([[5.0, 0, 0], [5, 0, 0], [5, 0, 0], [0, 0, 5]])  # agrees on 0, 2, 3
    assert accuracy(student, labels) == 50.0
    assert agreement(teacher, student) == 75.0


def test_predictive_kl_by_hand() -> None:
    teacher = torch.log(torch.tensor([[0.5, 0.5], [0.9, 0.1]]))
    student = torch.log(torch.tensor([[0.25, 0.75], [0.9, 0.1]]))
    expected = (0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75) + 0.0) / 2
    assert predictive_kl(teacher, student) == pytest.approx(expected, rel=1e-6)
    assert predictive_kl(teacher, teacher) == pytest.approx(0.0, abs=1e-12)
    assert predictive_kl(student, teacher) != pytest.approx(expected)  # not symmetric


def test_nll_by_hand() -> None:
    logits = torch.log(torch.tensor([[0.2, 0.8], [0.6, 0.4]]))
    assert nll(logits, torch.tensor([1, 1])) == pytest.approx(-(math.log(0.8) + math.log(0.4)) / 2)


def test_ece_by_hand() -> None:
    # Four predictions at confidence 0.8 (bin 8), three of them right: gap 0.8 - 0.75 = 0.05.
    # Two at confidence 0.6 (bin 6), both right: gap 0.4. ECE = (4 * 0.05 + 2 * 0.4) / 6.
    p = [[0.8, 0.2]] * 4 + [[0.6, 0.4]] * 2
    logits = torch.log(torch.tensor(p))
    labels = torch.tensor([0, 0, 0, 1, 0, 0])
    assert ece(logits, labels) == pytest.approx(100 * (4 * 0.05 + 2 * 0.4) / 6)
    assert ece(torch.tensor([[50.0, 0.0]]), torch.tensor([0])) == pytest.approx(0.0, abs=1e-9)


def test_ece_bins_are_closed_on_the_right() -> None:
    # Confidence exactly 0.5 (two equal logits, right) lies in the bin (0.4, 0.5], not with 0.55
    # (wrong) in (0.5, 0.6]: ECE = (|1 - 0.5| + |0 - 0.55|) / 2; [lo, hi) bins would give 2.5%.
    logits = torch.tensor([[0.0, 0.0], [math.log(0.55), math.log(0.45)]], dtype=torch.float64)
    assert F.softmax(logits, 1).max(1).values[0].item() == 0.5
    assert ece(logits, torch.tensor([0, 1])) == pytest.approx(100 * (0.5 + 0.55) / 2)
    # 0.2 (five equal logits, wrong) lies in (0.1, 0.2], apart from 0.25 (right) in (0.2, 0.3]:
    # ECE = (0.2 + 0.75) / 2; [lo, hi) bins would put both in one bin and give 27.5%.
    five = torch.log(torch.tensor([[0.2] * 5, [0.25] + [0.1875] * 4], dtype=torch.float64))
    assert F.softmax(five, 1).max(1).values[0].item() == 0.2
    assert ece(five, torch.tensor([1, 0])) == pytest.approx(100 * (0.2 + 0.75) / 2)


def test_split_metrics_with_and_without_teacher() -> None:
    labels = torch.tensor([0, 1])
    student = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    alone = split_metrics(student, labels)
    assert alone["student_acc"] == 100.0 and alone["agreement"] is None and alone["kl"] is None
    teacher = torch.tensor([[2.0, 0.0], [2.0, 0.0]])
    both = split_metrics(student, labels, teacher)
    assert both["teacher_acc"] == 50.0 and both["agreement"] == 50.0 and both["kd_error"] == 50.0
    assert both["kl"] > 0
