"""FT, factor transfer (Kim et al., NeurIPS 2018), as RepDistiller runs it (mdistiller has none).

Each default's source (RepDistiller ``train_student.py``, ``models/util.py``, ``helper/pretrain.py``,
``distiller_zoo/FT.py``):

- Taps: the last stage's map of both networks (``feat[-2]``).
- Paraphraser (teacher side): an encoder of three 3x3 convolutions, C -> C -> kC -> kC channels,
  and a decoder of three 3x3 transposed convolutions back to C, LeakyReLU(0.1) after each, no
  batch norm; factor rate k 0.5 (``Paraphraser(t_shape)``).
- Translator (student side): three 3x3 convolutions, C_s -> C_s -> kC_t -> kC_t channels, each
  with batch norm and LeakyReLU(0.1) (``Translator(s_shape, t_shape)``).
- Preparation: before the student trains, the paraphraser learns to reconstruct the teacher's map
  (MSE) for ``init_epochs`` 30 (``--init_epochs``) with its own SGD: lr 0.01 (the rate RepDistiller
  gives ResNet and WRN students; it gives VGG and ResNet-50 students their own 0.05, MobileNet and
  ShuffleNet students 0.01), momentum 0.9, weight decay 5e-4, batches of 64 (``--batch_size``),
  random crop and flip (its training loader). Then it is frozen.
- Loss: with the factors the translator's output and the paraphraser's encoding, the mean absolute
  difference of their attention maps (the L2-normalized channel mean of the squared factor;
  ``FactorTransfer`` with p1 2, p2 1; the paper compares the normalized factors themselves). The
  larger factor map is average-pooled to the smaller.
- Weights: CE 1, FT 200, no KD (``scripts/run_cifar_distill.sh``: ``-a 0 -b 200``).

The preparation runs in ``prepare``, on the training data, so a resumed run does it again before
its checkpoint restores every module.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from kdbench.data.split import Split
from kdbench.errors import KdbenchError
from kdbench.methods.at import attention_map
from kdbench.methods.feature import FeatureDistiller, FeatureParams, match_sizes

MOMENTUM, WEIGHT_DECAY = 0.9, 5e-4  # RepDistiller's --momentum and --weight_decay


class FTParams(FeatureParams):
    ft_weight: float = Field(200.0, ge=0, description="weight of the factor distance")
    factor_rate: float = Field(0.5, gt=0, le=1, description="factor channels per teacher channel (k)")
    init_epochs: int = Field(30, ge=0, description="epochs that train the paraphraser before the student")
    init_lr: float = Field(0.01, gt=0, description="learning rate of the paraphraser's training")
    init_batch_size: int = Field(64, ge=1, description="batch size of the paraphraser's training")
    init_augment: list[Literal["crop", "flip"]] = Field(["crop", "flip"], description="augmentation "
                                                        "of the paraphraser's training")


def ft_loss(student_factor: Tensor, teacher_factor: Tensor) -> Tensor:
    """Mean absolute difference of the two factors' attention maps (the larger map pooled)."""
    student_factor, teacher_factor = match_sizes(student_factor, teacher_factor)
    return (attention_map(student_factor, 2.0) - attention_map(teacher_factor, 2.0)).abs().mean()


def _convs(channels: list[int], batch_norm: bool, transposed: bool = False) -> nn.Sequential:
    """3x3 (transposed) convolutions through ``channels``, each followed by [BN and] LeakyReLU(0.1)."""
    conv = nn.ConvTranspose2d if transposed else nn.Conv2d
    layers: list[nn.Module] = []
    for c_in, c_out in zip(channels, channels[1:], strict=False):
        layers += [conv(c_in, c_out, 3, 1, 1), *([nn.BatchNorm2d(c_out)] if batch_norm else []),
                   nn.LeakyReLU(0.1)]
    return nn.Sequential(*layers)


class Paraphraser(nn.Module):
    """An autoencoder of the teacher's map whose code is the teacher's factor."""

    def __init__(self, channels: int, rate: float):
        super().__init__()
        factor = int(channels * rate)
        self.encoder = _convs([channels, channels, factor, factor], batch_norm=False)
        self.decoder = _convs([factor, factor, channels, channels], batch_norm=False, transposed=True)

    def forward(self, feature: Tensor, reconstruct: bool = False) -> Tensor:
        """The teacher's factor of ``feature``, or with ``reconstruct`` the decoded factor."""
        factor = self.encoder(feature)
        return self.decoder(factor) if reconstruct else factor


def translator(student_channels: int, teacher_channels: int, rate: float) -> nn.Sequential:
    """The student's factor from its map: kC_t channels, as the paraphraser's code."""
    factor = int(teacher_channels * rate)
    return _convs([student_channels, student_channels, factor, factor], batch_norm=True)


class FT(FeatureDistiller[FTParams]):
    """``ce_weight * CE + ft_weight * ft_loss(translator(f_s), paraphraser(f_t))
    [+ kd_weight * KD]`` on the last stage's maps, after ``prepare`` trained the paraphraser."""

    name = "ft"
    default = "last-stage"
    needs_maps = True

    def build(self, student: list[Tensor], teacher: list[Tensor]) -> None:
        rate = self.params.factor_rate
        if any(int(t.shape[1] * rate) < 1 for t in teacher):
            raise KdbenchError(f"ft: factor_rate {rate} leaves a teacher map of "
                             f"{min(t.shape[1] for t in teacher)} channels no factor channel")
        self.paraphrasers = nn.ModuleList([Paraphraser(t.shape[1], rate).to(t.device) for t in teacher])
        self.translators = nn.ModuleList([translator(s.shape[1], t.shape[1], rate).to(s.device)
                                          for s, t in zip(student, teacher, strict=True)])

    def prepare(self, data: Split) -> None:
        super().prepare(data)
        self.train_paraphrasers(data)
        self.paraphrasers.requires_grad_(False)

    def train_paraphrasers(self, data: Split) -> None:
        """RepDistiller's preparation: the paraphrasers reconstruct the teacher's maps (MSE)."""
        if self.teacher_taps is None:
            raise RuntimeError("ft: the taps are made before the paraphrasers train")
        p = self.params
        optimizer = torch.optim.SGD(self.paraphrasers.parameters(), lr=p.init_lr, momentum=MOMENTUM,
                                    weight_decay=WEIGHT_DECAY)
        generator = torch.Generator().manual_seed(int(torch.randint(2**31, ())))
        for _ in range(p.init_epochs):
            for batch in data.train_batches(p.init_batch_size, generator, tuple(p.init_augment)):
                with torch.no_grad():
                    _, features = self.teacher_taps.read(self.teacher, batch.images)
                loss = sum((F.mse_loss(paraphraser(f, reconstruct=True), f) for f, paraphraser
                            in zip(features.values(), self.paraphrasers, strict=True)),
                           batch.images.new_zeros(()))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        optimizer.zero_grad(set_to_none=True)  # no gradient outlives the preparation

    def feature_terms(self, student: list[Tensor], teacher: list[Tensor]) -> dict[str, Tensor]:
        with torch.no_grad():
            factors = [paraphrase(t) for t, paraphrase in zip(teacher, self.paraphrasers, strict=True)]
        pairs = zip(student, factors, self.translators, strict=True)
        loss = sum((ft_loss(translate(s), t) for s, t, translate in pairs), student[0].new_zeros(()))
        return {"ft": self.params.ft_weight * loss}
