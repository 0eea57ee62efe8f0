"""label-smoothing: golden values of both spreads against the formulas in float64 numpy, PyTorch's
label_smoothing as the `all` spread, hidden labels, the registration and a smoke run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kdbench.data import Batch
from kdbench.methods.label_smoothing import (
    LabelSmoothing,
    LabelSmoothingParams,
    smoothed_targets,
    soft_cross_entropy,
)
from kdbench.plugins import get_plugin_manager
from kdbench.testing import check_method

from .conftest import RaisingTeacher, run_smoke, smoke_track
from .reference import cross_entropy, softmax

LOGITS = np.array([[1.0, -0.5, 2.0, 0.0], [0.3, 0.3, -1.0, 2.5], [-2.0, 1.0, 0.0, 0.5]])
LABELS = np.array([2, 0, 3])


def yuan_lsr(logits: np.ndarray, labels: np.ndarray, eps: float) -> float:
    """Yuan et al.'s LSR: -mean_i sum_c q_ic log p_ic with q = 1 - eps on the label, eps / (K - 1) off."""
    classes = logits.shape[1]
    q = np.full(logits.shape, eps / (classes - 1))
    q[np.arange(len(labels)), labels] = 1 - eps
    return float(-np.mean(np.sum(q * np.log(softmax(logits)), axis=1)))


def loss(params: LabelSmoothingParams, mask: list[bool] | None = None) -> torch.Tensor:
    logits = torch.tensor(LOGITS, dtype=torch.float64)
    label_mask = torch.ones(len(LABELS), dtype=torch.bool) if mask is None else torch.tensor(mask)
    targets = smoothed_targets(torch.tensor(LABELS), 4, params.label_smoothing, params.spread)
    return soft_cross_entropy(logits, targets, label_mask)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_spread_over_all_classes_is_szegedys_and_pytorchs(eps: float) -> None:
    got = loss(LabelSmoothingParams(label_smoothing=eps)).item()
    assert got == pytest.approx(cross_entropy(LOGITS, LABELS, smoothing=eps), rel=1e-6)
    torch_value = F.cross_entropy(torch.tensor(LOGITS), torch.tensor(LABELS), label_smoothing=eps)
    assert got == pytest.approx(torch_value.item(), rel=1e-6)


@pytest.mark.parametrize("eps", [0.1, 0.3])
def test_spread_over_the_other_classes_is_yuan_et_als(eps: float) -> None:
    got = loss(LabelSmoothingParams(label_smoothing=eps, spread="others")).item()
    assert got == pytest.approx(yuan_lsr(LOGITS, LABELS, eps), rel=1e-6)
    assert got != pytest.approx(cross_entropy(LOGITS, LABELS, smoothing=eps), rel=1e-4)


def test_targets_are_distributions_with_the_label_on_top() -> None:
    for spread in ("all", "others"):
        targets = smoothed_targets(torch.tensor([1, 0]), 5, 0.2, spread)  # type: ignore[arg-type]
        assert torch.allclose(targets.sum(1), torch.ones(2))
        assert targets.argmax(1).tolist() == [1, 0]
    assert smoothed_targets(torch.tensor([1]), 5, 0.2, "others")[0].tolist() == pytest.approx(
        [0.05, 0.8, 0.05, 0.05, 0.05])
    assert smoothed_targets(torch.tensor([1]), 5, 0.2, "all")[0].tolist() == pytest.approx(
        [0.04, 0.84, 0.04, 0.04, 0.04])


def test_only_known_labels_count() -> None:
    params = LabelSmoothingParams()
    known = cross_entropy(LOGITS[[0, 2]], LABELS[[0, 2]], smoothing=0.1)
    assert loss(params, [True, False, True]).item() == pytest.approx(known, rel=1e-6)
    logits = torch.zeros(2, 4, requires_grad=True)
    none = soft_cross_entropy(logits, smoothed_targets(torch.tensor([0, 1]), 4, 0.1, "all"),
                              torch.zeros(2, dtype=torch.bool))
    none.backward()
    assert none.item() == 0.0 and logits.grad is not None and not logits.grad.any()


def test_the_distiller_never_runs_a_teacher_and_ignores_hidden_label_values() -> None:
    torch.manual_seed(0)
    student = torch.nn.Linear(6, 4)
    method = LabelSmoothing(student, RaisingTeacher(), LabelSmoothingParams())
    images, mask = torch.randn(3, 6), torch.tensor([True, False, True])
    first = method(Batch(images, torch.tensor([2, 0, 3]), torch.arange(3), mask), epoch=0)
    second = method(Batch(images, torch.tensor([2, -1, 3]), torch.arange(3), mask), epoch=0)
    assert set(first) == {"ce"} and torch.equal(first["ce"], second["ce"])


def test_defaults_and_registration() -> None:
    assert LabelSmoothingParams().model_dump() == {"label_smoothing": 0.1, "spread": "all"}
    with pytest.raises(ValueError):
        LabelSmoothingParams(label_smoothing=1.0)
    entry = get_plugin_manager().methods.find("label-smoothing")
    assert entry.distribution.startswith("kdbench ")
    assert not entry.info.needs_teacher and entry.info.labels_needed(LabelSmoothingParams())


def test_keeps_the_contract_with_yuans_spread() -> None:
    check_method("label-smoothing", {"spread": "others", "label_smoothing": 0.2})


@pytest.mark.slow
def test_smoke_run_without_a_teacher(tmp_path: Path, teacher_cache: Path) -> None:
    track = smoke_track(tmp_path, {"name": "label-smoothing"})
    [result] = run_smoke(track, tmp_path / "results", teacher_cache)
    assert result["status"] == "ok" and result["spec"]["teacher"] is None
    assert result["spec"]["method"]["params"] == {"label_smoothing": 0.1, "spread": "all"}
