"""DKD: golden values of both terms against the formulas written out in float64, the paper's
decomposition of KD, the warm-up, the parameters, the registration and a smoke run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from kdbench import cli
from kdbench.plugin import API_VERSION, Batch, kd_loss
from kdbench.plugins import get_plugin_manager
from kdbench.specs import Recipe
from kdbench.testing import FixedLogits, check_method, finite_difference, logits_batch, smoke_run

from kdbench_dkd import DKD, DKDParams, dkd_terms, warmup_factor
from kdbench_dkd.dkd import KDBENCH_API

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

STUDENT = np.array([[1.0, -0.5, 2.0, 0.0, 0.3], [0.3, 0.3, -1.0, 2.5, 1.0], [-2.0, 1.0, 0.0, 0.5, 4.0]])
TEACHER = np.array([[3.0, -1.0, 0.5, 0.2, 0.0], [0.0, 1.0, -2.0, 1.0, 2.0], [-1.0, 2.0, 1.5, -0.5, 1.0]])
LABELS = np.array([0, 3, 4])


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.sum(p * (np.log(p) - np.log(q))))


def reference_terms(s: np.ndarray, t: np.ndarray, label: int, temperature: float) -> tuple[float, float]:
    """TCKD and NCKD of one example, T^2 times KL(teacher || student), from their definitions."""
    p_s, p_t = softmax(s / temperature), softmax(t / temperature)
    b_s = np.array([p_s[label], 1 - p_s[label]])
    b_t = np.array([p_t[label], 1 - p_t[label]])
    others = [c for c in range(len(s)) if c != label]
    hat_s = p_s[others] / p_s[others].sum()  # the distribution among the non-target classes
    hat_t = p_t[others] / p_t[others].sum()
    return temperature**2 * kl(b_t, b_s), temperature**2 * kl(hat_t, hat_s)


def tensors() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.tensor(STUDENT), torch.tensor(TEACHER), torch.tensor(LABELS)


def fixed_pair(params: DKDParams) -> tuple[DKD, Batch]:
    student, teacher, labels = tensors()
    return DKD(FixedLogits(student), FixedLogits(teacher), params), logits_batch(labels)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_terms_match_their_definitions(temperature: float) -> None:
    tckd, nckd = dkd_terms(*tensors(), temperature, reduction="none")
    for i in range(len(LABELS)):
        expected = reference_terms(STUDENT[i], TEACHER[i], LABELS[i], temperature)
        assert (tckd[i].item(), nckd[i].item()) == pytest.approx(expected, rel=1e-10)
    mean = dkd_terms(*tensors(), temperature)
    assert [m.item() for m in mean] == pytest.approx([tckd.mean().item(), nckd.mean().item()], rel=1e-12)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0])
def test_kd_decomposes_into_tckd_and_weighted_nckd(temperature: float) -> None:
    # Zhao et al., eq. (4): KD = TCKD + (1 - p_target^teacher) * NCKD, example by example.
    student, teacher, labels = tensors()
    tckd, nckd = dkd_terms(student, teacher, labels, temperature, reduction="none")
    for i in range(len(labels)):
        p_target = softmax(TEACHER[i] / temperature)[LABELS[i]]
        kd = kd_loss(student[i:i + 1], teacher[i:i + 1], temperature).item()
        assert tckd[i].item() + (1 - p_target) * nckd[i].item() == pytest.approx(kd, rel=1e-10)
    # with alpha = beta = 1, DKD drops the factor (1 - p_target) < 1, so it is at least KD
    dkd, batch = fixed_pair(DKDParams(ce_weight=0, alpha=1, beta=1, temperature=temperature,
                                      warmup_epochs=0))
    terms = dkd(batch, epoch=0)
    combined = (terms["tckd"] + terms["nckd"]).item()
    assert combined == pytest.approx((tckd + nckd).mean().item(), rel=1e-10)
    assert combined >= kd_loss(student, teacher, temperature).item()


def test_both_terms_vanish_when_the_student_equals_the_teacher() -> None:
    _, teacher, labels = tensors()
    tckd, nckd = dkd_terms(teacher, teacher.clone(), labels, 4.0)
    assert tckd.item() == pytest.approx(0.0, abs=1e-12) and nckd.item() == pytest.approx(0.0, abs=1e-12)


def test_nckd_ignores_the_target_logit_and_tckd_only_sees_the_target_mass() -> None:
    student, teacher, labels = tensors()
    moved = student.clone()
    moved[torch.arange(3), labels] += 3.0  # changes p_target but not the non-target distribution
    assert dkd_terms(moved, teacher, labels, 4.0)[1].item() == pytest.approx(
        dkd_terms(student, teacher, labels, 4.0)[1].item(), rel=1e-10)


def test_warmup_ramps_linearly_and_is_capped_by_the_recipe() -> None:
    assert [warmup_factor(epoch, 4) for epoch in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_factor(0, 0) == 1.0
    assert DKDParams.model_validate({}, context={"recipe": Recipe(epochs=240)}).warmup_epochs == 20
    assert DKDParams.model_validate({}, context={"recipe": Recipe(epochs=2)}).warmup_epochs == 2
    dkd, batch = fixed_pair(DKDParams(warmup_epochs=4))
    full, first = dkd(batch, epoch=10), dkd(batch, epoch=0)
    assert first["ce"].item() == pytest.approx(full["ce"].item())
    for term in ("tckd", "nckd"):
        assert full[term].item() > 0
        assert first[term].item() == pytest.approx(0.25 * full[term].item(), rel=1e-10)


def test_defaults_and_the_papers_names() -> None:
    assert DKDParams().model_dump() == {"ce_weight": 1.0, "tckd_weight": 1.0, "nckd_weight": 8.0,
                                        "temperature": 4.0, "warmup_epochs": 20}
    # the paper's alpha and beta are accepted and resolve to the same parameters (and run id)
    assert DKDParams.model_validate({"alpha": 2, "beta": 6}) == DKDParams(tckd_weight=2, nckd_weight=6)
    with pytest.raises(ValueError):
        DKDParams.model_validate({"gamma": 1})


def test_the_gradient_matches_finite_differences() -> None:
    # finite gradients that reach the student and never the teacher: check_method, below
    dkd, batch = fixed_pair(DKDParams(warmup_epochs=0))
    loss = lambda: sum(dkd(batch, epoch=0).values())  # noqa: E731
    loss().backward()
    analytic = dkd.student.logits.grad[1, 2].item()
    assert analytic == pytest.approx(finite_difference(loss, dkd.student.logits, (1, 2)), rel=1e-5)


def test_registered_through_its_own_distribution() -> None:
    entry = get_plugin_manager().methods.find("dkd")
    assert entry.distribution.startswith("kdbench-dkd ") and entry.info.Params is DKDParams


@pytest.mark.slow
def test_smoke_run_in_the_quickstart_track(tmp_path: Path) -> None:
    result = smoke_run("dkd", tmp_path)
    assert result["spec"]["method"]["params"]["warmup_epochs"] == 2  # capped by the smoke recipe
    assert set(result["history"][0]["loss"]) == {"ce", "tckd", "nckd"}


def test_refused_on_data_without_labels(tmp_path: Path, capsys) -> None:
    track = yaml.safe_load(get_plugin_manager().tracks.get("quickstart").path.read_text(encoding="utf-8"))
    track["methods"] = [{"name": "kd"}, {"name": "dkd", "params": {"temperature": float("nan")}},
                        {"name": "dkd", "label": "dkd-4"}]
    track.pop("contrasts", None)  # they name the track's own methods
    track["distill_data"] = {"name": "mnist-5k", "labels": False}
    spec = tmp_path / "dkd.yaml"
    spec.write_text(yaml.safe_dump(track), encoding="utf-8")
    assert cli.main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "methods.1.params.temperature" in err and "must be a finite number" in err
    assert "methods.2.name" in err and "method 'dkd' trains on labels, but distill_data.labels" in err


@pytest.mark.parametrize("params", [{}, {"ce_weight": 0.0, "warmup_epochs": 0}])
def test_keeps_the_contract(params: dict) -> None:
    check_method("dkd", params)


def test_a_hidden_label_takes_the_teachers_top_class() -> None:
    dkd, batch = fixed_pair(DKDParams(ce_weight=0.5, warmup_epochs=0))
    mask = torch.tensor([True, False, False])
    terms = dkd(batch._replace(labels=torch.tensor([0, -1, 2]), label_mask=mask), epoch=0)
    student, teacher, labels = tensors()
    targets = torch.tensor([0, int(teacher[1].argmax()), int(teacher[2].argmax())])
    tckd, nckd = dkd_terms(student, teacher, targets, 4.0)
    ce = torch.nn.functional.cross_entropy(student[:1], labels[:1])
    assert torch.allclose(terms["tckd"], tckd) and torch.allclose(terms["nckd"], 8.0 * nckd)
    assert torch.allclose(terms["ce"], 0.5 * ce)


def test_built_for_the_plugin_api_it_depends_on() -> None:
    assert KDBENCH_API == API_VERSION.split(".")[0]
    major = int(KDBENCH_API)
    assert f'"kdbench>=0.1,<{major + 1}"' in PYPROJECT.read_text(encoding="utf-8")
