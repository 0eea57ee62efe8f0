"""The metrics every track reports, from logits on one split (Stanton et al.; Cho & Hariharan).

All percentages are in [0, 100]; KL and NLL are in nats at temperature 1. Teacher "logits" may be
log-probabilities (an ensemble's log of mean softmax): every metric only uses their softmax.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _percent(count: int, total: int) -> float:
    """``100 * count / total`` computed in Python floats, so 967 of 1000 is 96.7, not 96.70000076."""
    return 100.0 * count / total if total else float("nan")


def accuracy(logits: Tensor, labels: Tensor) -> float:
    """Top-1 accuracy in percent."""
    return _percent(int((logits.argmax(1) == labels).sum()), len(labels))


def agreement(teacher_logits: Tensor, student_logits: Tensor, disagree: bool = False) -> float:
    """Top-1 agreement in percent: 100 * mean(argmax p_t == argmax p_s); with ``disagree``, the
    KD error 100 - agreement (Cho & Hariharan), counted rather than subtracted."""
    same = int((teacher_logits.argmax(1) == student_logits.argmax(1)).sum())
    return _percent(len(student_logits) - same if disagree else same, len(student_logits))


def predictive_kl(teacher_logits: Tensor, student_logits: Tensor) -> float:
    """Mean KL(p_t || p_s) at temperature 1, in nats."""
    log_p_t = F.log_softmax(teacher_logits.double(), 1)
    log_p_s = F.log_softmax(student_logits.double(), 1)
    return (log_p_t.exp() * (log_p_t - log_p_s)).sum(1).mean().item()


def nll(logits: Tensor, labels: Tensor) -> float:
    """Mean negative log-likelihood of the labels, in nats."""
    return F.cross_entropy(logits.double(), labels).item()


def ece(logits: Tensor, labels: Tensor, bins: int = 10) -> float:
    """Expected calibration error in percent over ``bins`` equal-width confidence bins (lo, hi],
    as Guo et al. (2017) define them and gnosis (Stanton et al.'s code) computes them."""
    confidence, predicted = F.softmax(logits.double(), 1).max(1)
    correct = (predicted == labels).double()
    edges = torch.linspace(0, 1, bins + 1, dtype=torch.float64)
    index = torch.bucketize(confidence, edges[1:-1], right=False)  # edges[i-1] < c <= edges[i]
    total = torch.zeros(bins, dtype=torch.float64)
    gap = torch.zeros(bins, dtype=torch.float64)
    total.index_add_(0, index, torch.ones_like(confidence))
    gap.index_add_(0, index, correct - confidence)
    return 100.0 * (gap.abs().sum() / len(labels)).item()


def _label_metrics(logits: Tensor, labels: Tensor, who: str) -> dict[str, float]:
    return {f"{who}_acc": accuracy(logits, labels), f"{who}_nll": nll(logits, labels),
            f"{who}_ece": ece(logits, labels)}


def split_metrics(student_logits: Tensor, labels: Tensor,
                  teacher_logits: Tensor | None = None) -> dict[str, float | None]:
    """Every metric of one split. Fidelity and teacher metrics are None without a teacher, and
    label metrics None where the labels are hidden (-1: distillation data used without labels)."""
    out: dict[str, float | None] = dict.fromkeys(
        ["student_acc", "student_nll", "student_ece", "teacher_acc", "teacher_nll", "teacher_ece",
         "agreement", "kl", "kd_error"])
    labelled = bool((labels >= 0).all())
    if labelled:
        out.update(_label_metrics(student_logits, labels, "student"))
    if teacher_logits is not None:
        agree = agreement(teacher_logits, student_logits)
        disagree = agreement(teacher_logits, student_logits, disagree=True)
        out.update(agreement=agree, kl=predictive_kl(teacher_logits, student_logits),
                   kd_error=disagree)
        if labelled:
            out.update(_label_metrics(teacher_logits, labels, "teacher"))
    return out
