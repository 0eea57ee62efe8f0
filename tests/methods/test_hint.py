"""Hint (FitNets): golden values, the regressor's shapes, and what is trained and saved."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from kdbench.cli import main
from kdbench.errors import KdbenchError
from kdbench.methods.hint import Hint, HintParams, hint_loss, regressor

from .conftest import first_batch, lenet_pair, tiny_data
from .reference import cross_entropy, kd


def test_hint_loss_is_the_mean_squared_error() -> None:
    a = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    b = np.array([[0.5, -1.0, 0.5], [2.0, 1.0, 1.0]])
    expected = sum((x - y) ** 2 for x, y in zip(a.flat, b.flat, strict=True)) / a.size  # 13.25 / 6
    got = hint_loss(torch.tensor(a), torch.tensor(b)).item()
    assert got == pytest.approx(expected, rel=1e-12) and got == pytest.approx(13.25 / 6)


def test_hint_loss_is_zero_on_equal_features() -> None:
    x = torch.randn(4, 3, 5, 5)
    assert hint_loss(x, x.clone()).item() == 0.0


# RepDistiller's ConvReg (models/util.py), mdistiller's (distillers/_common.py): the layer built
# for each pair of map shapes, as (type, kernel, stride, padding), then BN and ReLU.
@pytest.mark.parametrize(("student", "teacher", "conv"), [
    ((2, 32, 8, 8), (2, 64, 16, 16), (nn.ConvTranspose2d, (4, 4), (2, 2), (1, 1))),  # teacher 2x
    ((2, 32, 16, 16), (2, 64, 8, 8), (nn.Conv2d, (3, 3), (2, 2), (1, 1))),           # student 2x
    ((2, 32, 8, 8), (2, 64, 8, 8), (nn.Conv2d, (1, 1), (1, 1), (0, 0))),             # equal: 1x1
    ((2, 32, 10, 9), (2, 64, 8, 8), (nn.Conv2d, (3, 2), (1, 1), (0, 0))),            # 1 + s - t
])
def test_the_regressor_follows_the_references_construction_rule(student, teacher, conv) -> None:
    layers = regressor(torch.Size(student), torch.Size(teacher))
    kind, kernel, stride, padding = conv
    assert [type(layer) for layer in layers] == [kind, nn.BatchNorm2d, nn.ReLU]
    assert (layers[0].in_channels, layers[0].out_channels) == (student[1], teacher[1])
    assert (layers[0].kernel_size, layers[0].stride, layers[0].padding) == (kernel, stride, padding)
    assert layers[0].bias is not None and layers[1].num_features == teacher[1]
    out = layers(torch.randn(student))
    assert out.shape == teacher and out.min().item() >= 0  # ReLU last, as the references


def test_vectors_are_regressed_with_a_linear_layer_and_relu() -> None:
    layers = regressor(torch.Size((2, 5)), torch.Size((2, 7)))
    assert [type(layer) for layer in layers] == [nn.Linear, nn.ReLU]
    assert layers(torch.randn(2, 5)).shape == (2, 7)


@pytest.mark.parametrize(("student", "teacher", "message"), [
    ((2, 4, 4, 4), (2, 6, 16, 16), r"teacher's 16x16 map is larger than the student's 4x4"),
    ((2, 4, 8, 8), (2, 6), r"shapes \(2, 4, 8, 8\) and \(2, 6\) cannot be regressed"),
    ((2, 3, 4), (2, 4), r"shapes \(2, 3, 4\) and \(2, 4\)"),
])
def test_shapes_the_references_refuse_are_one_line_errors(student, teacher, message) -> None:
    with pytest.raises(KdbenchError, match=message) as error:
        regressor(torch.Size(student), torch.Size(teacher))
    assert "\n" not in str(error.value)


def test_the_loss_is_the_mse_of_the_regressed_map_on_a_hand_built_case() -> None:
    layers = regressor(torch.Size((1, 1, 2, 2)), torch.Size((1, 1, 2, 2)))  # 1x1 conv, BN, ReLU
    with torch.no_grad():
        layers[0].weight.fill_(2.0)
        layers[0].bias.fill_(1.0)
    layers.eval()  # BN with its initial running stats: (x - 0) / sqrt(1 + eps)
    student = torch.tensor([[[[1.0, -1.0], [0.0, 2.0]]]])
    target = torch.tensor([[[[3.0, 0.0], [0.0, 4.0]]]])
    scale = 1 / (1 + 1e-5) ** 0.5
    projected = [3 * scale, 0.0, 1 * scale, 5 * scale]  # relu(2x + 1) through BN
    expected = sum((p - t) ** 2 for p, t in zip(projected, [3.0, 0.0, 0.0, 4.0], strict=True)) / 4
    assert hint_loss(layers(student), target).item() == pytest.approx(expected, rel=1e-6)


def test_hint_distiller_terms_match_the_formula() -> None:
    data = tiny_data()
    student, teacher = lenet_pair(data)
    params = HintParams(ce_weight=0.5, hint_weight=10.0, kd_weight=0.25, temperature=2.0,
                        student_tap="fc1", teacher_tap="fc1")
    distiller = Hint(student, teacher, params)
    distiller.prepare(data)
    batch = first_batch(data)
    terms = distiller(batch, epoch=0)
    with torch.no_grad():  # the features by hand: fc1 is the classifier's first linear + ReLU
        s_feat = student.classifier[:2](student.features(batch.images))
        t_feat = teacher.classifier[:2](teacher.features(batch.images))
        projected = distiller.regressor(s_feat).double().numpy()
        s, t = student(batch.images).double().numpy(), teacher(batch.images).double().numpy()
    mse = float(np.mean((projected - t_feat.double().numpy()) ** 2))
    assert terms["hint"].item() == pytest.approx(10.0 * mse, rel=1e-4)
    assert terms["ce"].item() == pytest.approx(0.5 * cross_entropy(s, batch.labels.numpy()), rel=1e-4)
    assert terms["kd"].item() == pytest.approx(0.25 * kd(s, t, 2.0), rel=1e-4)


def test_hint_defaults_and_the_kd_term_is_off_by_default() -> None:
    assert HintParams().model_dump() == {
        "ce_weight": 1.0, "hint_weight": 100.0, "kd_weight": 0.0, "temperature": 4.0,
        "student_tap": "hint", "teacher_tap": "hint", "stages": 1, "stage1_epochs": None}
    data = tiny_data()
    distiller = Hint(*lenet_pair(data), HintParams())
    distiller.prepare(data)
    assert set(distiller(first_batch(data), 0)) == {"ce", "hint"}


def test_the_regressor_is_trained_and_saved_with_the_student() -> None:
    data = tiny_data()
    distiller = Hint(*lenet_pair(data), HintParams())
    distiller.student.train()
    distiller.prepare(data)
    assert distiller.student.training  # prepare probes in eval mode and restores the mode
    trainable = {id(p) for p in distiller.trainable_parameters()}
    assert all(id(p) in trainable for p in distiller.regressor.parameters())
    assert not any(id(p) in trainable for p in distiller.teacher.parameters())
    state = distiller.student_state_dict()
    assert any(key.startswith("regressor.") for key in state)
    assert not any(key.startswith("teacher.") for key in state)


def test_an_unknown_tap_fails_when_the_method_is_built() -> None:
    data = tiny_data()
    with pytest.raises(KdbenchError, match="no feature tap 'block9'"):
        Hint(*lenet_pair(data), HintParams(student_tap="block9"))


def test_the_default_taps_are_the_models_middle_maps() -> None:
    data = tiny_data()
    distiller = Hint(*lenet_pair(data), HintParams())
    distiller.prepare(data)  # LeNet-5's hint tap is conv2: equal maps, so a 1x1 convolution
    assert distiller.student_tap.name == distiller.teacher_tap.name == "hint"
    conv = distiller.regressor[0]
    assert isinstance(conv, nn.Conv2d) and conv.kernel_size == (1, 1)
    assert (conv.in_channels, conv.out_channels) == (8, 16)  # conv2 of width 0.5 and 1


def two_stage(data, **options) -> Hint:
    params = HintParams(stages=2, stage1_epochs=2, kd_weight=0.9, ce_weight=0.1, **options)
    distiller = Hint(*lenet_pair(data), params)
    distiller.prepare(data)
    return distiller


def test_two_stages_train_the_hint_alone_then_ce_and_kd() -> None:
    data = tiny_data()
    distiller = two_stage(data)
    batch = first_batch(data)
    for epoch in (0, 1):
        assert set(distiller(batch, epoch)) == {"hint"}
    terms = distiller(batch, epoch=2)
    assert set(terms) == {"ce", "kd"}
    with torch.no_grad():
        s = distiller.student(batch.images).double().numpy()
        t = distiller.teacher(batch.images).double().numpy()
    assert terms["ce"].item() == pytest.approx(0.1 * cross_entropy(s, batch.labels.numpy()), rel=1e-4)
    assert terms["kd"].item() == pytest.approx(0.9 * kd(s, t, 4.0), rel=1e-4)


def test_stage_one_trains_the_student_up_to_the_hint_layer_and_the_regressor() -> None:
    data = tiny_data()
    distiller = two_stage(data)
    sum(distiller(first_batch(data), epoch=0).values()).backward()
    student = distiller.student
    assert all(p.grad is not None for p in student.features[:4].parameters())  # conv1, conv2
    assert all(p.grad is None for p in student.classifier.parameters())  # after the hint layer
    assert all(p.grad is not None for p in distiller.regressor.parameters())


def test_two_stages_need_kd_and_a_second_stage() -> None:
    with pytest.raises(ValueError, match="set kd_weight above 0"):
        HintParams(stages=2)
    recipe = type("Recipe", (), {"epochs": 30})()
    with pytest.raises(ValueError, match="stage1_epochs 30 leaves no epoch for stage 2"):
        HintParams.model_validate({"stages": 2, "kd_weight": 0.9}, context={"recipe": recipe})
    assert HintParams.model_validate({"stages": 2, "kd_weight": 0.9, "stage1_epochs": 29},
                                     context={"recipe": recipe}).stage1_epochs == 29
    assert HintParams.model_validate({"stages": 2, "kd_weight": 0.9}).stage1_epochs == 30
    with pytest.raises(ValueError, match="stage1_epochs applies only with stages: 2"):
        HintParams(stage1_epochs=5)


def validate_lines(capsys: pytest.CaptureFixture[str], path) -> tuple[int, list[str]]:
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.splitlines()


def test_validate_reports_a_model_without_a_hint_tap(capsys, tiny_track, write_track) -> None:
    tiny_track["students"][0]["model"]["params"]["hidden"] = []
    tiny_track["methods"].append({"name": "hint"})
    code, lines = validate_lines(capsys, write_track(tiny_track))
    assert code == 2 and len(lines) == 1
    assert "methods.3.params.student_tap" in lines[0] and "MLP declares no hint tap" in lines[0]


def test_validate_reports_a_stage_one_as_long_as_the_recipe(capsys, tiny_track, write_track) -> None:
    tiny_track["methods"].append({"name": "hint", "params": {"stages": 2, "kd_weight": 0.9,
                                                             "stage1_epochs": 3}})
    code, lines = validate_lines(capsys, write_track(tiny_track))
    assert code == 2 and len(lines) == 2  # the full budget (3 epochs) and the smoke one (2)
    assert all("methods.3.params" in line and "stage1_epochs 3 leaves no epoch for stage 2" in line
               for line in lines)
