"""DIST: golden values of both terms against numpy's Pearson correlation in float64, the relation
match that KD lacks, the weights, the registration, the contract and a smoke run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from kdbench.plugin import API_VERSION, Batch, kd_loss
from kdbench.plugins import get_plugin_manager
from kdbench.testing import FixedLogits, check_method, finite_difference, logits_batch, smoke_run

from kdbench_dist import DIST, DISTParams, dist_terms, pearson
from kdbench_dist.dist import KDBENCH_API

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

STUDENT = np.array([[1.0, -0.5, 2.0, 0.0, 0.3], [0.3, 0.3, -1.0, 2.5, 1.0], [-2.0, 1.0, 0.0, 0.5, 4.0],
                    [0.5, 0.0, 0.1, -0.3, -1.0]])
TEACHER = np.array([[3.0, -1.0, 0.5, 0.2, 0.0], [0.0, 1.0, -2.0, 1.0, 2.0], [-1.0, 2.0, 1.5, -0.5, 1.0],
                    [2.0, 2.0, -1.0, 0.0, 0.5]])


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def rho(u: np.ndarray, v: np.ndarray) -> float:
    """Pearson's correlation with the reference's 1e-8 added to the product of the deviations' norms."""
    du, dv = u - u.mean(), v - v.mean()
    return float(np.sum(du * dv) / (np.sqrt(np.sum(du**2)) * np.sqrt(np.sum(dv**2)) + 1e-8))


def reference_terms(s: np.ndarray, t: np.ndarray, temperature: float) -> tuple[float, float]:
    """Huang et al., eqs. (5)-(7): T^2 (1 - mean rho) over the rows (examples, inter-class) and over
    the columns (classes across the batch, intra-class) of the softened predictions."""
    p_s, p_t = softmax(s / temperature), softmax(t / temperature)
    inter = np.mean([rho(p_s[i], p_t[i]) for i in range(len(s))])
    intra = np.mean([rho(p_s[:, c], p_t[:, c]) for c in range(s.shape[1])])
    return temperature**2 * (1 - inter), temperature**2 * (1 - intra)


def t64(values: np.ndarray) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def fixed_pair(params: DISTParams) -> tuple[DIST, Batch]:
    return DIST(FixedLogits(t64(STUDENT)), FixedLogits(t64(TEACHER)), params), logits_batch([0, 3, 4, 1])


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_terms_match_numpys_correlation(temperature: float) -> None:
    inter, intra = dist_terms(t64(STUDENT), t64(TEACHER), temperature)
    assert (inter.item(), intra.item()) == pytest.approx(reference_terms(STUDENT, TEACHER, temperature),
                                                         rel=1e-10)
    # without the 1e-8, the terms are Pearson's correlation as numpy computes it
    p_s, p_t = softmax(STUDENT / temperature), softmax(TEACHER / temperature)
    inter_np = np.mean([np.corrcoef(p_s[i], p_t[i])[0, 1] for i in range(len(p_s))])
    assert inter.item() == pytest.approx(temperature**2 * (1 - inter_np), rel=1e-5)


def test_pearson_is_the_correlation_of_each_row() -> None:
    a, b = t64(STUDENT), t64(TEACHER)
    expected = [np.corrcoef(STUDENT[i], TEACHER[i])[0, 1] for i in range(len(STUDENT))]
    assert pearson(a, b).tolist() == pytest.approx(expected, rel=1e-7)
    assert pearson(a, 3 * a + 1).tolist() == pytest.approx([1.0] * len(a), rel=1e-7)
    assert pearson(a, -a).tolist() == pytest.approx([-1.0] * len(a), rel=1e-7)


def test_a_student_whose_predictions_are_affine_in_the_teachers_costs_nothing() -> None:
    # DIST asks for the teacher's relations, not its values: p_s = a p_t + (1 - a) / C matches both
    # relations exactly, while KD still sees a difference.
    p_t = softmax(TEACHER)
    student = np.log(0.5 * p_t + 0.5 / TEACHER.shape[1])
    inter, intra = dist_terms(t64(student), t64(TEACHER), 1.0)
    assert inter.item() == pytest.approx(0.0, abs=1e-6) and intra.item() == pytest.approx(0.0, abs=1e-6)
    assert kd_loss(t64(student), t64(TEACHER), 1.0).item() > 0.05


def test_both_terms_vanish_when_the_student_equals_the_teacher_and_grow_when_reversed() -> None:
    inter, intra = dist_terms(t64(TEACHER), t64(TEACHER), 1.0)  # zero up to the 1e-8 in rho
    assert inter.item() == pytest.approx(0.0, abs=1e-6) and intra.item() == pytest.approx(0.0, abs=1e-6)
    inter, intra = dist_terms(t64(-TEACHER), t64(TEACHER), 1.0)
    assert inter.item() > 1.0 and intra.item() > 1.0  # anti-correlated predictions: 1 - rho > 1


def test_the_distiller_weighs_the_terms_as_the_reference_does() -> None:
    # the reference: CE + kd_loss_weight (2) * (beta (1) * inter + gamma (1) * intra), tau = 4
    dist, batch = fixed_pair(DISTParams())
    terms = dist(batch, epoch=0)
    inter, intra = reference_terms(STUDENT, TEACHER, 4.0)
    ce = torch.nn.functional.cross_entropy(t64(STUDENT), batch.labels)
    assert terms["ce"].item() == pytest.approx(ce.item(), rel=1e-12)
    assert terms["inter"].item() == pytest.approx(2 * inter, rel=1e-10)
    assert terms["intra"].item() == pytest.approx(2 * intra, rel=1e-10)


def test_defaults() -> None:
    assert DISTParams().model_dump() == {"ce_weight": 1.0, "inter_weight": 2.0, "intra_weight": 2.0,
                                         "temperature": 4.0}
    with pytest.raises(ValueError):
        DISTParams.model_validate({"beta": 1})
    with pytest.raises(ValueError):
        DISTParams.model_validate({"temperature": 0})


def test_the_gradient_matches_finite_differences() -> None:
    # finite gradients that reach the student and never the teacher: check_method, below
    dist, batch = fixed_pair(DISTParams(ce_weight=0.0))
    loss = lambda: sum(dist(batch, epoch=0).values())  # noqa: E731
    loss().backward()
    analytic = dist.student.logits.grad[2, 1].item()
    assert analytic == pytest.approx(finite_difference(loss, dist.student.logits, (2, 1)), rel=1e-5)


def test_registered_through_its_own_distribution() -> None:
    entry = get_plugin_manager().methods.find("dist")
    assert entry.distribution.startswith("kdbench-dist ") and entry.info.Params is DISTParams
    assert entry.info.labels_needed(DISTParams()) and not entry.info.labels_needed(DISTParams(ce_weight=0.0))


@pytest.mark.parametrize("params", [{}, {"ce_weight": 0.0}])
def test_keeps_the_contract(params: dict) -> None:
    check_method("dist", params)


def test_built_for_the_plugin_api_it_depends_on() -> None:
    assert KDBENCH_API == API_VERSION.split(".")[0]
    assert f'"kdbench>=0.1,<{int(KDBENCH_API) + 1}"' in PYPROJECT.read_text(encoding="utf-8")


@pytest.mark.slow
def test_smoke_run_in_the_quickstart_track(tmp_path: Path) -> None:
    result = smoke_run("dist", tmp_path)
    assert set(result["history"][0]["loss"]) == {"ce", "inter", "intra"}
