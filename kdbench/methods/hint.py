"""Hint (FitNets, Romero et al. 2015): a learned regressor maps a student feature onto a teacher
feature and their mean squared error is minimized, trained jointly with CE (and optionally KD) in
one stage, as RepDistiller does; FitNets' original two-stage schedule is not reproduced.

Maps (N, C, H, W) to (N, C', H', W') with a 1x1 convolution and batch norm, the larger map
average-pooled to the smaller size first; (N, D) features with a linear layer; a map paired with
a vector is globally average-pooled first. The regressor is built from one batch in ``prepare``.
"""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field
from torch import Size, Tensor, nn

from kdbench.data import Batch
from kdbench.data.split import Split
from kdbench.errors import KdbenchError
from kdbench.methods.base import Distiller
from kdbench.methods.ce import ce_loss
from kdbench.methods.kd import kd_loss
from kdbench.methods.taps import PENULTIMATE, FeatureTap, probe
from kdbench.types import Params


class HintParams(Params):
    ce_weight: float = Field(1.0, ge=0, description="weight of cross-entropy on the labels")
    hint_weight: float = Field(100.0, ge=0, description="weight of the feature regression (MSE)")
    kd_weight: float = Field(0.0, ge=0, description="weight of an optional Hinton KD term")
    temperature: float = Field(4.0, gt=0, description="softmax temperature of the KD term")
    student_tap: str = Field(PENULTIMATE, min_length=1, description="student feature tap")
    teacher_tap: str = Field(PENULTIMATE, min_length=1, description="teacher feature tap")


def hint_loss(projected: Tensor, target: Tensor) -> Tensor:
    """Mean squared error between the regressed student feature and the teacher's feature."""
    return F.mse_loss(projected, target)


class HintRegressor(nn.Module):
    """Student feature -> teacher feature's shape; ``target`` pools the teacher's to match."""

    def __init__(self, student: Size, teacher: Size):
        super().__init__()
        for what, shape in (("student", student), ("teacher", teacher)):
            if len(shape) not in (2, 4):
                raise KdbenchError(f"hint: the {what} feature has shape {tuple(shape)}; only "
                                   "(N, C) and (N, C, H, W) features are supported")
        self.size: tuple[int, int] | None = None
        if len(student) == 4 and len(teacher) == 4:
            self.size = (min(student[2], teacher[2]), min(student[3], teacher[3]))
            pool = [nn.AdaptiveAvgPool2d(self.size)] if tuple(student[2:]) != self.size else []
            self.map = nn.Sequential(*pool, nn.Conv2d(student[1], teacher[1], 1, bias=False),
                                     nn.BatchNorm2d(teacher[1]))
        else:
            flat = [nn.AdaptiveAvgPool2d(1), nn.Flatten()] if len(student) == 4 else []
            self.map = nn.Sequential(*flat, nn.Linear(student[1], teacher[1]))

    def forward(self, feature: Tensor) -> Tensor:
        return self.map(feature)

    def target(self, feature: Tensor) -> Tensor:
        if feature.ndim == 4 and self.size is None:
            return feature.mean(dim=(2, 3))
        if feature.ndim == 4 and tuple(feature.shape[2:]) != self.size:
            return F.adaptive_avg_pool2d(feature, self.size)
        return feature


class Hint(Distiller):
    """``ce_weight * CE + hint_weight * MSE(regressor(f_s), f_t) [+ kd_weight * KD]``."""

    def __init__(self, student: nn.Module, teacher: nn.Module, params: HintParams):
        super().__init__(student, teacher, params)
        self.student_tap = FeatureTap(student, params.student_tap)
        self.teacher_tap = FeatureTap(teacher, params.teacher_tap)
        self.regressor: HintRegressor | None = None

    def prepare(self, data: Split) -> None:
        images = next(data.eval_batches(2)).images
        shapes = (probe(self.student, self.student_tap, images).shape,
                  probe(self.teacher, self.teacher_tap, images).shape)
        self.regressor = HintRegressor(*shapes).to(images.device)

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        if self.regressor is None:
            raise RuntimeError("hint: call prepare(data) before training (it builds the regressor)")
        p = self.params
        logits, student_feature = self.student_tap.read(self.student, batch.images)
        teacher_logits, teacher_feature = self.teacher_tap.read(self.teacher_logits, batch)
        target = self.regressor.target(teacher_feature)
        terms = {"ce": p.ce_weight * ce_loss(logits, batch.labels, batch.label_mask),
                 "hint": p.hint_weight * hint_loss(self.regressor(student_feature), target)}
        if p.kd_weight > 0:
            terms["kd"] = p.kd_weight * kd_loss(logits, teacher_logits, p.temperature)
        return terms
