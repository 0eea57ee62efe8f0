"""VID: golden values against the Gaussian likelihood, the regressors it builds, and its term."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kdbench.methods.taps import probe_all
from kdbench.methods.vid import VID, VIDParams, vid_loss

from .conftest import first_batch, lenet_pair, tiny_data
from .feature_helpers import draw, tensor
from .reference import variational


def test_vid_loss_matches_the_formula() -> None:
    mean, target, log_scale = draw(0, 2, 3, 2, 2), draw(1, 2, 3, 2, 2), draw(2, 3)
    got = vid_loss(tensor(mean), tensor(target), tensor(log_scale), 1e-5)
    assert got.item() == pytest.approx(variational(mean, target, log_scale), rel=1e-12)


def test_a_perfect_prediction_costs_only_the_variance() -> None:
    target, log_scale = tensor(draw(3, 2, 3, 2, 2)), tensor(draw(4, 3))
    expected = 0.5 * torch.log(F.softplus(log_scale) + 1e-5).mean()
    assert vid_loss(target, target.clone(), log_scale, 1e-5).item() == pytest.approx(expected.item())


def test_the_regressors_are_repdistillers() -> None:
    data = tiny_data()
    distiller = VID(*lenet_pair(data), VIDParams())
    distiller.prepare(data)  # LeNet-5 stages conv1, conv2: 3 -> 6 and 8 -> 16 channels
    assert len(distiller.regressors) == 2
    for regressor, (s, t) in zip(distiller.regressors, [(3, 6), (8, 16)], strict=True):
        convs = [layer for layer in regressor.mean if isinstance(layer, nn.Conv2d)]
        assert [(c.in_channels, c.out_channels) for c in convs] == [(s, t), (t, t), (t, t)]
        assert all(c.kernel_size == (1, 1) and c.bias is None for c in convs)
        assert [type(layer) for layer in regressor.mean][1::2] == [nn.ReLU, nn.ReLU]
        variance = F.softplus(regressor.log_scale) + 1e-5
        assert variance.shape == (t,) and torch.allclose(variance, torch.full((t,), 5.0))
    trainable = {id(p) for p in distiller.trainable_parameters()}
    assert all(id(p) in trainable for p in distiller.regressors.parameters())
    assert any(key.startswith("regressors.") for key in distiller.student_state_dict())


def test_the_term_sums_the_regressors_losses_on_pooled_maps() -> None:
    data = tiny_data()
    params = VIDParams(student_taps=["conv1"], teacher_taps=["conv2"], vid_weight=2.0)
    distiller = VID(*lenet_pair(data), params)
    distiller.prepare(data)
    batch = first_batch(data)
    terms = distiller(batch, 0)
    student = probe_all(distiller.student, ["conv1"], batch.images)["conv1"]
    teacher = probe_all(distiller.teacher, ["conv2"], batch.images)["conv2"]
    assert student.shape[2] > teacher.shape[2]  # so the student's map is pooled first
    regressor = distiller.regressors[0]
    pooled = F.adaptive_avg_pool2d(student, teacher.shape[2:])
    expected = 2.0 * vid_loss(regressor.mean(pooled), teacher, regressor.log_scale, 1e-5)
    assert terms["vid"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_defaults_are_repdistillers() -> None:
    p = VIDParams()
    assert (p.vid_weight, p.init_pred_var, p.eps, p.ce_weight) == (1.0, 5.0, 1e-5, 1.0)
