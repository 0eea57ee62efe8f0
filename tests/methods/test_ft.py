"""FT: golden values against RepDistiller's factor loss, the paraphraser and translator it builds,
and the paraphraser's training in ``prepare``."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kdbench.errors import KdbenchError
from kdbench.methods.ft import FT, FTParams, ft_loss
from kdbench.methods.taps import probe_all

from .conftest import first_batch, lenet_pair, tiny_data
from .feature_helpers import draw, tensor
from .reference import factor_transfer


def test_ft_loss_matches_the_formula_with_pooling_across_sizes() -> None:
    student, teacher = draw(0, 3, 4, 8, 8), draw(1, 3, 2, 4, 4)
    assert ft_loss(tensor(student), tensor(teacher)).item() == pytest.approx(
        factor_transfer(student, teacher), rel=1e-10)


def test_ft_loss_by_hand_and_zero_for_equal_factors() -> None:
    # attention maps (1, 0) and (1, 1) / sqrt 2: mean(|1 - 1/sqrt2|, 1/sqrt2) = 1/2
    student, teacher = torch.tensor([[[[1.0, 0.0]]]]), torch.tensor([[[[1.0, -1.0]]]])
    assert ft_loss(student, teacher).item() == pytest.approx(0.5, rel=1e-6)
    factor = tensor(draw(2, 2, 3, 4, 4))
    assert ft_loss(factor, factor.clone()).item() == 0.0
    assert ft_loss(factor, 2 * factor).item() == pytest.approx(0.0, abs=1e-15)


def prepared(**params: object) -> tuple[FT, tiny_data]:
    data = tiny_data()
    student, teacher = lenet_pair(data)
    torch.manual_seed(0)
    distiller = FT(student, teacher, FTParams.model_validate(params))
    distiller.prepare(data)
    return distiller, data


def test_the_paraphraser_and_translator_are_repdistillers() -> None:
    distiller, _ = prepared(init_epochs=0)  # LeNet-5's last map, conv2: 8 (student), 16 (teacher)
    paraphraser, translator = distiller.paraphrasers[0], distiller.translators[0]
    def convs(layers: nn.Module) -> list[tuple[int, int]]:
        return [(m.in_channels, m.out_channels) for m in layers.modules()
                if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]

    assert convs(paraphraser.encoder) == [(16, 16), (16, 8), (8, 8)]
    assert convs(paraphraser.decoder) == [(8, 8), (8, 16), (16, 16)]
    assert all(isinstance(m, nn.ConvTranspose2d | nn.LeakyReLU) for m in paraphraser.decoder)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in paraphraser.modules())
    assert convs(translator) == [(8, 8), (8, 8), (8, 8)]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in translator) == 3
    slopes = {m.negative_slope for m in distiller.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.1}


def reconstruction_error(distiller: FT, data) -> float:
    images = first_batch(data, 48).images
    feature = probe_all(distiller.teacher, ["conv2"], images)["conv2"]
    with torch.no_grad():
        return F.mse_loss(distiller.paraphrasers[0](feature, reconstruct=True), feature).item()


def test_prepare_trains_the_paraphraser_to_reconstruct_then_freezes_it() -> None:
    untrained, data = prepared(init_epochs=0)
    trained, _ = prepared(init_epochs=30, init_lr=0.05)
    assert reconstruction_error(trained, data) < 0.75 * reconstruction_error(untrained, data)
    assert not any(p.requires_grad for p in trained.paraphrasers.parameters())
    sum(trained(first_batch(data), 0).values()).backward()
    assert all(p.grad is None for p in trained.paraphrasers.parameters())
    assert all(p.grad is not None for p in trained.translators.parameters())
    assert all(p.grad is None for p in trained.teacher.parameters())
    state = trained.student_state_dict()  # a resumed run gets the trained paraphraser back
    assert any(key.startswith("paraphrasers.") for key in state)


def test_the_term_is_the_factor_loss_of_translated_and_paraphrased_maps() -> None:
    distiller, data = prepared(init_epochs=1, ft_weight=3.0)
    distiller.eval()  # the translator's batch norm with running statistics, as the probe sees it
    batch = first_batch(data)
    terms = distiller(batch, 0)
    student = probe_all(distiller.student, ["conv2"], batch.images)["conv2"]
    teacher = probe_all(distiller.teacher, ["conv2"], batch.images)["conv2"]
    with torch.no_grad():
        expected = 3.0 * ft_loss(distiller.translators[0](student), distiller.paraphrasers[0](teacher))
    assert terms["ft"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_a_factor_rate_that_leaves_no_channel_is_one_line() -> None:
    with pytest.raises(KdbenchError, match="factor_rate 0.01 leaves a teacher map of 16 channels") as error:
        prepared(factor_rate=0.01)
    assert "\n" not in str(error.value)


def test_defaults_are_repdistillers() -> None:
    p = FTParams()
    assert (p.ft_weight, p.factor_rate, p.init_epochs) == (200, 0.5, 30)
    assert (p.init_lr, p.init_batch_size) == (0.01, 64)
    assert p.init_augment == ["crop", "flip"] and p.ce_weight == 1.0 and p.kd_weight == 0.0
