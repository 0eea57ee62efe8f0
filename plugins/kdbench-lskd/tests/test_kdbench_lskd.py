"""Logit standardization: golden values of the z-score and of KD and DKD on standardized logits
against the formulas in float64 numpy, the invariance that motivates it, the defaults, the
registration, the contract and a smoke run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from kdbench.plugin import API_VERSION, Batch, kd_loss
from kdbench.plugins import get_plugin_manager
from kdbench.testing import FixedLogits, check_method, logits_batch, smoke_run

from kdbench_lskd import LSKD, LSKDParams, plugin, zscore
from kdbench_lskd.dkd import LSDKD, LSDKDParams

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

STUDENT = np.array([[1.0, -0.5, 2.0, 0.0, 0.3], [0.3, 0.3, -1.0, 2.5, 1.0], [-2.0, 1.0, 0.0, 0.5, 4.0]])
TEACHER = np.array([[3.0, -1.0, 0.5, 0.2, 0.0], [0.0, 1.0, -2.0, 1.0, 2.0], [-1.0, 2.0, 1.5, -0.5, 1.0]])
LABELS = np.array([0, 3, 4])


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.sum(p * (np.log(p) - np.log(q))))


def standardized(z: np.ndarray) -> np.ndarray:
    """Sun et al., eq. (9) with the code's 1e-7: (z - mean(z)) / (1e-7 + std(z)), std with n - 1."""
    return (z - z.mean()) / (1e-7 + z.std(ddof=1))


def reference_kd(s: np.ndarray, t: np.ndarray, temperature: float) -> float:
    """T^2 * mean_i KL(softmax(Z(t_i) / T) || softmax(Z(s_i) / T))."""
    return temperature**2 * float(np.mean([kl(softmax(standardized(ti) / temperature),
                                                  softmax(standardized(si) / temperature))
                                           for si, ti in zip(s, t, strict=True)]))


def reference_dkd(s: np.ndarray, t: np.ndarray, label: int, temperature: float) -> tuple[float, float]:
    """TCKD and NCKD (Zhao et al.) of one example on standardized logits, T^2 times KL."""
    p_s, p_t = softmax(standardized(s) / temperature), softmax(standardized(t) / temperature)
    others = [c for c in range(len(s)) if c != label]
    b_s, b_t = np.array([p_s[label], 1 - p_s[label]]), np.array([p_t[label], 1 - p_t[label]])
    hat_s, hat_t = p_s[others] / p_s[others].sum(), p_t[others] / p_t[others].sum()
    return temperature**2 * kl(b_t, b_s), temperature**2 * kl(hat_t, hat_s)


def t64(values: np.ndarray) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def batch() -> Batch:
    return logits_batch(LABELS)


def test_zscore_matches_the_formula() -> None:
    z = zscore(t64(STUDENT))
    assert np.allclose(z.numpy(), np.stack([standardized(row) for row in STUDENT]), rtol=1e-12)
    assert np.allclose(z.mean(1).numpy(), 0.0, atol=1e-12)
    assert np.allclose(z.std(1).numpy(), 1.0, rtol=1e-6)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 3.0])
def test_kd_term_matches_the_formula(temperature: float) -> None:
    lskd = LSKD(FixedLogits(t64(STUDENT)), FixedLogits(t64(TEACHER)), LSKDParams(temperature=temperature))
    terms = lskd(batch(), epoch=0)
    assert terms["kd"].item() == pytest.approx(9 * reference_kd(STUDENT, TEACHER, temperature), rel=1e-10)
    # cross-entropy sees the raw logits, with the reference's weight 0.1
    raw = torch.nn.functional.cross_entropy(t64(STUDENT), torch.tensor(LABELS))
    assert terms["ce"].item() == pytest.approx(0.1 * raw.item(), rel=1e-12)


def test_the_student_need_not_match_the_teachers_logit_range() -> None:
    # A student whose logits are the teacher's scaled by 1/5 and shifted pays nothing after the
    # z-score; plain KD at the same temperature charges it.
    student = 0.2 * TEACHER + 1.5
    lskd = LSKD(FixedLogits(t64(student)), FixedLogits(t64(TEACHER)), LSKDParams())
    assert lskd(batch(), epoch=0)["kd"].item() == pytest.approx(0.0, abs=1e-10)
    assert kd_loss(t64(student), t64(TEACHER), 2.0).item() > 0.1


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_dkd_terms_match_the_formula(temperature: float) -> None:
    params = LSDKDParams(warmup_epochs=0, temperature=temperature)
    terms = LSDKD(FixedLogits(t64(STUDENT)), FixedLogits(t64(TEACHER)), params)(batch(), epoch=0)
    expected = np.mean([reference_dkd(STUDENT[i], TEACHER[i], LABELS[i], temperature)
                        for i in range(len(LABELS))], axis=0)
    assert terms["tckd"].item() == pytest.approx(9 * expected[0], rel=1e-9)
    assert terms["nckd"].item() == pytest.approx(72 * expected[1], rel=1e-9)
    # and it is scale-free too
    scaled = LSDKD(FixedLogits(t64(3 * STUDENT - 1)), FixedLogits(t64(TEACHER)), params)(batch(), epoch=0)
    assert scaled["nckd"].item() == pytest.approx(terms["nckd"].item(), rel=1e-6)  # up to the 1e-7


def test_defaults_are_the_references_cifar100_setting() -> None:
    assert LSKDParams().model_dump() == {"ce_weight": 0.1, "kd_weight": 9.0, "temperature": 2.0}
    assert LSDKDParams().model_dump() == {"ce_weight": 1.0, "tckd_weight": 9.0, "nckd_weight": 72.0,
                                          "temperature": 2.0, "warmup_epochs": 20}
    aliased = LSDKDParams.model_validate({"alpha": 18, "beta": 36})
    assert aliased == LSDKDParams(tckd_weight=18, nckd_weight=36)
    with pytest.raises(ValueError):
        LSKDParams.model_validate({"base_temp": 2})


def test_registered_through_its_own_distribution() -> None:
    methods = get_plugin_manager().methods
    for name, params in (("lskd", LSKDParams), ("lskd-dkd", LSDKDParams)):
        entry = methods.find(name)
        assert entry.distribution.startswith("kdbench-lskd ") and entry.info.Params is params
        assert not entry.info.labels_needed(params(ce_weight=0.0))


def test_the_dkd_variant_needs_kdbench_dkd(monkeypatch: pytest.MonkeyPatch) -> None:
    assert [m.name for m in plugin.kdbench_methods()] == ["lskd", "lskd-dkd"]
    monkeypatch.setattr(plugin, "dkd_installed", lambda: False)
    assert [m.name for m in plugin.kdbench_methods()] == ["lskd"]


@pytest.mark.parametrize(("name", "params"), [("lskd", {}), ("lskd", {"ce_weight": 0.0}),
                                              ("lskd-dkd", {}), ("lskd-dkd", {"ce_weight": 0.0})])
def test_keeps_the_contract(name: str, params: dict) -> None:
    check_method(name, params)


def test_built_for_the_plugin_api_it_depends_on() -> None:
    assert plugin.KDBENCH_API == API_VERSION.split(".")[0]
    assert f'"kdbench>=0.1,<{int(plugin.KDBENCH_API) + 1}"' in PYPROJECT.read_text(encoding="utf-8")


@pytest.mark.slow
def test_smoke_run_in_the_quickstart_track(tmp_path: Path) -> None:
    result = smoke_run("lskd", tmp_path)
    assert set(result["history"][0]["loss"]) == {"ce", "kd"}
