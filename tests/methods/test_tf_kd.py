"""tf-kd: golden values of the virtual teacher and of Tf-KD_reg against the reference's formula in
float64 numpy, the weights, hidden labels, the registration, Tf-KD_self as plain kd with a teacher
of the student's architecture, and a smoke run."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from kdbench import cli
from kdbench.data import Batch
from kdbench.methods.kd import KD, KDParams
from kdbench.methods.tf_kd import SELF_TRAINING, TfKD, TfKDParams, tf_kd_reg_loss, virtual_teacher
from kdbench.plugins import get_plugin_manager

from .conftest import RaisingTeacher, run_smoke, smoke_track
from .reference import softmax

LOGITS = np.array([[1.0, -0.5, 2.0, 0.0, 0.3], [0.3, 0.3, -1.0, 2.5, 1.0], [-2.0, 1.0, 0.0, 0.5, 4.0]])
LABELS = np.array([2, 0, 4])


def reference_teacher(label: int, classes: int, a: float, temperature: float) -> np.ndarray:
    """Yuan et al.'s code: u = a on the label, (1 - a) / (K - 1) elsewhere; the teacher is softmax(u / T)."""
    u = np.full(classes, (1 - a) / (classes - 1))
    u[label] = a
    return softmax(u / temperature)


def reference_reg(logits: np.ndarray, labels: np.ndarray, a: float, temperature: float) -> float:
    """sum_i sum_c q_ic (log q_ic - log softmax(z_i)_c) / (N K): KLDivLoss's default 'mean'."""
    total = 0.0
    for z, label in zip(logits, labels, strict=True):
        q = reference_teacher(label, len(z), a, temperature)
        total += float(np.sum(q * (np.log(q) - np.log(softmax(z)))))
    return total / logits.size


def t64(values: np.ndarray) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


@pytest.mark.parametrize(("a", "temperature"), [(0.99, 40.0), (0.9, 1.0), (0.99, 10.0)])
def test_virtual_teacher_and_term_match_the_reference(a: float, temperature: float) -> None:
    teacher = virtual_teacher(torch.tensor(LABELS), 5, a, temperature)
    expected = np.stack([reference_teacher(label, 5, a, temperature) for label in LABELS])
    assert np.allclose(teacher.numpy(), expected, rtol=1e-6)
    mask = torch.ones(3, dtype=torch.bool)
    got = tf_kd_reg_loss(t64(LOGITS), torch.tensor(LABELS), mask, a, temperature).item()
    assert got == pytest.approx(reference_reg(LOGITS, LABELS, a, temperature), rel=1e-6)


def test_the_references_virtual_teacher_is_nearly_uniform_at_its_cifar100_settings() -> None:
    # softmax of probabilities over T = 40: the label gets barely more than 1/K (a fact of the
    # reference's code, which the paper's numbers come from).
    teacher = virtual_teacher(torch.tensor([3]), 100, 0.99, 40.0)[0]
    assert int(teacher.argmax()) == 3 and 0.01 < float(teacher[3]) < 0.0103


def test_the_distiller_weighs_ce_and_the_term_and_never_runs_a_teacher() -> None:
    student = torch.nn.Embedding(3, 5, _weight=t64(LOGITS).float())
    method = TfKD(student, RaisingTeacher(), TfKDParams())
    index = torch.arange(3)
    terms = method(Batch(index, torch.tensor(LABELS), index, torch.ones(3, dtype=torch.bool)), epoch=0)
    ce = torch.nn.functional.cross_entropy(torch.tensor(LOGITS), torch.tensor(LABELS)).item()
    assert terms["ce"].item() == pytest.approx(0.05 * ce, rel=1e-5)
    assert terms["reg"].item() == pytest.approx(0.95 * reference_reg(LOGITS, LABELS, 0.99, 40.0), rel=1e-5)


def test_only_known_labels_count() -> None:
    mask = torch.tensor([True, False, True])
    labels = torch.tensor([2, -1, 4])
    got = tf_kd_reg_loss(t64(LOGITS), labels, mask, 0.99, 10.0).item()
    assert got == pytest.approx(reference_reg(LOGITS[[0, 2]], LABELS[[0, 2]], 0.99, 10.0), rel=1e-6)
    logits = torch.zeros(2, 4, requires_grad=True)
    none = tf_kd_reg_loss(logits, torch.tensor([-1, -1]), torch.zeros(2, dtype=torch.bool), 0.99, 40.0)
    none.backward()
    assert none.item() == 0.0 and logits.grad is not None and not logits.grad.any()


def test_defaults_and_registration() -> None:
    assert TfKDParams().model_dump() == {"ce_weight": 0.05, "reg_weight": 0.95, "correct_prob": 0.99,
                                         "temperature": 40.0}
    with pytest.raises(ValueError):
        TfKDParams(correct_prob=1.0)
    entry = get_plugin_manager().methods.find("tf-kd")
    assert entry.distribution.startswith("kdbench ")
    assert not entry.info.needs_teacher and entry.info.labels_needed(TfKDParams(ce_weight=0.0))


def test_self_training_is_kd_with_the_references_weights() -> None:
    # Yuan et al.'s loss_kd_self: (1 - alpha) CE + alpha * multiplier * T^2 * KLDivLoss()(log_softmax(
    # s / T), softmax(t / T)), the KL averaged over examples and 100 classes.
    generator = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(4, 100, generator=generator), torch.randn(4, 100, generator=generator)
    labels = torch.tensor([5, 17, 99, 0])
    alpha, temperature = 0.95, 20.0
    p_s = softmax(student.double().numpy() / temperature)
    p_t = softmax(teacher.double().numpy() / temperature)
    kl = float(np.sum(p_t * (np.log(p_t) - np.log(p_s)))) / student.numel()
    ce = torch.nn.functional.cross_entropy(student, labels).item()
    reference = (1 - alpha) * ce + alpha * temperature**2 * kl
    index = torch.arange(4)
    kd = KD(torch.nn.Embedding(4, 100, _weight=student), torch.nn.Embedding(4, 100, _weight=teacher),
            KDParams(**SELF_TRAINING))
    terms = kd(Batch(index, labels, index, torch.ones(4, dtype=torch.bool)), epoch=0)
    assert sum(terms.values()).item() == pytest.approx(reference, rel=1e-5)


def test_self_training_is_a_track_teacher_of_the_students_architecture(tmp_path: Path) -> None:
    track = yaml.safe_load(get_plugin_manager().tracks.get("quickstart").path.read_text(encoding="utf-8"))
    track["teachers"] = [{"label": "self", "model": track["students"][0]["model"]}]  # trained like a teacher
    track["methods"] = [{"name": "ce"}, {"name": "tf-kd"},
                        {"name": "kd", "label": "tf-kd-self", "params": SELF_TRAINING}]
    track.pop("contrasts")
    spec = tmp_path / "tf-kd.yaml"
    spec.write_text(yaml.safe_dump(track), encoding="utf-8")
    assert cli.main(["validate", str(spec)]) == 0


def test_refused_on_data_without_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    track = yaml.safe_load(get_plugin_manager().tracks.get("quickstart").path.read_text(encoding="utf-8"))
    track["methods"] = [{"name": "kd", "params": {"ce_weight": 0.0}}, {"name": "tf-kd"},
                        {"name": "label-smoothing"}]
    track.pop("contrasts")
    track["distill_data"] = {"name": "mnist-5k", "labels": False}
    spec = tmp_path / "hidden.yaml"
    spec.write_text(yaml.safe_dump(track), encoding="utf-8")
    assert cli.main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "methods.1.name" in err and "method 'tf-kd' trains on labels" in err
    assert "methods.2.name" in err and "method 'label-smoothing' trains on labels" in err
    assert "methods.0" not in err


@pytest.mark.slow
def test_smoke_run_without_a_teacher(tmp_path: Path, teacher_cache: Path) -> None:
    [result] = run_smoke(smoke_track(tmp_path, {"name": "tf-kd"}), tmp_path / "results", teacher_cache)
    assert result["status"] == "ok" and result["spec"]["teacher"] is None
    assert set(result["history"][-1]["loss"]) == {"ce", "reg"}


def test_the_readme_states_the_self_training_weights() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL) if "tf-kd-self" in b]
    [method] = yaml.safe_load(block)["methods"]
    assert method["name"] == "kd" and KDParams(**method["params"]) == KDParams(**SELF_TRAINING)
