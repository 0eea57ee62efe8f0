"""CRD: golden values of the NCE loss, negatives, memories, the normalizer, and what is saved."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kdbench.methods.crd import CRD, CRDParams, crd_loss, initial_memory, nce_loss

from .conftest import first_batch, lenet_pair, tiny_data
from .reference import crd, nce


def unit(rows: int, dim: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(rows, dim, generator=generator, dtype=torch.float64), dim=1)


def test_nce_golden_value_by_hand() -> None:
    # One anchor, K = 1 of N = 2, Z = 1, nce_t = 1, both scores 0: P = 1, noise 1/2,
    # loss = -log(1 / 1.5) - log(0.5 / 1.5) = log 4.5.
    assert nce_loss(torch.zeros(1, 2), 1.0, 2, 0.0).item() == pytest.approx(math.log(4.5), rel=1e-6)


@pytest.mark.parametrize(("nce_t", "z"), [(0.07, 30.0), (0.5, 2.0), (1.0, 1.0)])
def test_nce_matches_the_formula(nce_t: float, z: float) -> None:
    scores = unit(5, 8, 0) @ unit(7, 8, 1).T  # cosines in [-1, 1], 5 anchors, 1 + 6 candidates
    expected = nce(scores.numpy(), nce_t, 40, z)
    assert nce_loss(scores, nce_t, 40, math.log(z)).item() == pytest.approx(expected, rel=1e-10)


def test_nce_rewards_a_higher_positive_and_lower_negatives() -> None:
    base = torch.tensor([[0.2, 0.1, 0.3, -0.2]])
    higher_positive = base + torch.tensor([[0.5, 0, 0, 0]])
    lower_negatives = base - torch.tensor([[0, 0.5, 0.5, 0.5]])
    loss = lambda scores: nce_loss(scores, 0.07, 100, 3.0).item()  # noqa: E731
    assert loss(higher_positive) < loss(base) and loss(lower_negatives) < loss(base)


def test_crd_loss_matches_the_formula() -> None:
    student, teacher = unit(3, 6, 2), unit(3, 6, 3)
    student_memory, teacher_memory = unit(10, 6, 4), unit(10, 6, 5)
    index = torch.tensor([[0, 4, 5, 9], [1, 2, 2, 8], [7, 3, 0, 6]])
    z = (12.0, 20.0)
    expected = crd(student.numpy(), teacher.numpy(), student_memory.numpy(), teacher_memory.numpy(),
                   index.numpy(), 0.1, z)
    got = crd_loss(student, teacher, student_memory, teacher_memory, index, 0.1,
                   torch.tensor(z, dtype=torch.float64).log())
    assert got.item() == pytest.approx(expected, rel=1e-10)


def prepared(params: CRDParams | None = None, **data_options: int) -> tuple[CRD, object]:
    data = tiny_data(**data_options)
    distiller = CRD(*lenet_pair(data), params or CRDParams(feat_dim=16))
    distiller.prepare(data)
    return distiller, data


def test_negatives_come_from_other_classes_and_cover_them() -> None:
    distiller, data = prepared(n=60, classes=3)
    labels = torch.tensor([0, 1, 2, 2])
    torch.manual_seed(0)
    negatives = distiller.negatives(labels, 2000)
    assert negatives.shape == (4, 2000)
    assert ((negatives >= 0) & (negatives < len(data))).all()
    assert (data.labels[negatives] != labels[:, None]).all()
    for row, label in zip(negatives, labels, strict=True):
        others = (data.labels != label).nonzero().flatten()
        assert set(row.tolist()) == set(others.tolist())  # 2000 draws reach all 40 candidates


def test_negatives_are_clipped_to_the_data_size() -> None:
    distiller, data = prepared(CRDParams(feat_dim=16, nce_k=16384))
    batch = first_batch(data)
    asked, draw = [], distiller.negatives

    def spy(labels: torch.Tensor, k: int) -> torch.Tensor:
        asked.append(k)
        return draw(labels, k)

    distiller.negatives = spy
    distiller(batch, epoch=0)
    assert asked == [len(data) - 1]


def test_the_memory_starts_uniform_within_repdistillers_bound() -> None:
    memory = initial_memory(4000, 12)
    stdv = 1 / math.sqrt(12 / 3)  # RepDistiller ContrastMemory: 1 / sqrt(inputSize / 3) = 0.5
    assert memory.shape == (4000, 12)
    assert memory.min().item() >= -stdv and memory.max().item() <= stdv
    assert memory.min().item() < -0.99 * stdv and memory.max().item() > 0.99 * stdv  # fills it
    assert abs(memory.mean().item()) < 0.01 and memory.var().item() == pytest.approx(stdv**2 / 3, rel=0.05)


def test_the_memories_are_seeded_by_torchs_generator() -> None:
    def memories_after(seed: int) -> CRD:
        data = tiny_data()
        distiller = CRD(*lenet_pair(data), CRDParams(feat_dim=16))
        torch.manual_seed(seed)
        distiller.prepare(data)
        return distiller

    first, again, other = memories_after(3), memories_after(3), memories_after(4)
    assert torch.equal(first.student_memory, again.student_memory)
    assert torch.equal(first.teacher_memory, again.teacher_memory)
    assert not torch.equal(first.student_memory, other.student_memory)
    assert not torch.equal(first.student_memory, first.teacher_memory)


def test_forward_matches_the_formula_and_updates_the_memories() -> None:
    params = CRDParams(feat_dim=16, ce_weight=0.0, crd_weight=0.5, nce_k=10, nce_m=0.25)
    distiller, data = prepared(params)
    batch = first_batch(data)
    memories = distiller.student_memory.clone(), distiller.teacher_memory.clone()
    drawn, draw = [], distiller.negatives

    def spy(labels: torch.Tensor, k: int) -> torch.Tensor:
        drawn.append(draw(labels, k))
        return drawn[-1]

    distiller.negatives = spy
    terms = distiller(batch, epoch=0)
    with torch.no_grad():
        s_feat = distiller.student.classifier[:-1](distiller.student.features(batch.images))
        t_feat = distiller.teacher.classifier[:-1](distiller.teacher.features(batch.images))
        s = F.normalize(distiller.embed_student(s_feat), dim=1).double()
        t = F.normalize(distiller.embed_teacher(t_feat), dim=1).double()
    index = torch.cat([batch.index[:, None], drawn[0]], dim=1)
    z = tuple(math.exp(v) for v in distiller.log_z.tolist())
    expected = crd(s.numpy(), t.numpy(), memories[0].double().numpy(), memories[1].double().numpy(),
                   index.numpy(), params.nce_t, z)
    assert terms["crd"].item() == pytest.approx(0.5 * expected, rel=1e-3)
    # Z is N times the mean of exp(score / nce_t) over the first batch's scores
    s_scores = (s @ memories[1].double().T).gather(1, index)
    n = len(data)
    assert z[0] == pytest.approx(n * torch.exp(s_scores / params.nce_t).mean().item(), rel=1e-3)
    # the batch's rows moved towards the new embeddings; every other row is untouched
    for memory, old, emb in ((distiller.student_memory, memories[0], s), (distiller.teacher_memory,
                                                                        memories[1], t)):
        moved = F.normalize(0.25 * old[batch.index].double() + 0.75 * emb, dim=1)
        torch.testing.assert_close(memory[batch.index].double(), moved, rtol=1e-5, atol=1e-6)
        rest = torch.ones(n, dtype=torch.bool)
        rest[batch.index] = False
        assert torch.equal(memory[rest], old[rest])
        torch.testing.assert_close(memory[batch.index].norm(dim=1), torch.ones(len(batch.index)))


def test_the_normalizer_is_estimated_once() -> None:
    distiller, data = prepared()
    assert torch.isnan(distiller.log_z).all()
    distiller(first_batch(data, seed=0), epoch=0)
    first = distiller.log_z.clone()
    assert torch.isfinite(first).all()
    distiller(first_batch(data, seed=1), epoch=0)
    assert torch.equal(distiller.log_z, first)


def test_embeddings_and_memories_are_trained_and_saved_with_the_student() -> None:
    distiller, data = prepared()
    state = distiller.student_state_dict()
    assert {"student_memory", "teacher_memory", "log_z"} <= set(state)
    assert state["student_memory"].shape == (len(data), 16)
    assert any(k.startswith("embed_student.") for k in state) and any(
        k.startswith("embed_teacher.") for k in state)
    assert not any(k.startswith(("teacher.", "by_class", "class_")) for k in state)
    trainable = {id(p) for p in distiller.trainable_parameters()}
    assert all(id(p) in trainable for p in distiller.embed_teacher.parameters())
    assert not any(id(p) in trainable for p in distiller.teacher.parameters())
    distiller(first_batch(data), epoch=0)
    resumed, _ = prepared()
    missing, unexpected = resumed.load_state_dict(distiller.student_state_dict(), strict=False)
    assert not unexpected and all(key.startswith("teacher.") for key in missing)
    assert torch.equal(resumed.log_z, distiller.log_z)
    assert torch.equal(resumed.teacher_memory, distiller.teacher_memory)


def test_crd_defaults() -> None:
    assert CRDParams().model_dump() == {
        "ce_weight": 1.0, "crd_weight": 0.8, "kd_weight": 0.0, "temperature": 4.0, "feat_dim": 128,
        "nce_k": 16384, "nce_t": 0.07, "nce_m": 0.5, "student_tap": "penultimate",
        "teacher_tap": "penultimate"}


def test_crd_needs_two_classes() -> None:
    data = tiny_data(classes=1)
    with pytest.raises(ValueError, match="two classes"):
        CRD(*lenet_pair(data), CRDParams()).prepare(data)


def test_the_optional_kd_term() -> None:
    distiller, data = prepared(CRDParams(feat_dim=16, kd_weight=0.9, temperature=4.0))
    assert set(distiller(first_batch(data), epoch=0)) == {"ce", "crd", "kd"}
    assert np.isfinite(distiller.log_z.numpy()).all()
