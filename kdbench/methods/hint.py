"""Hint (FitNets, Romero et al. 2015) as RepDistiller and mdistiller run it; each default's source:

- Taps: ``hint``, the tap each model declares as its middle stage's output (``model_cfg.hint_tap``;
  RepDistiller ``train_student.py --hint_layer 2``, mdistiller ``FITNET.HINT_LAYER = 2``).
- Regressor: their ``ConvReg`` rule (RepDistiller ``models/util.py``, mdistiller
  ``distillers/_common.py``), chosen from the maps' heights: a student map twice the teacher's, a
  3x3 convolution of stride 2 (padding 1); a teacher map twice the student's, a 4x4 transposed
  convolution of stride 2 (padding 1); otherwise, with the student's at least as large, a
  convolution of kernel (1 + s_H - t_H, 1 + s_W - t_W), 1x1 for equal sizes; then BN and ReLU. Other
  sizes are an error: the teacher's map is never pooled. Vectors: linear and ReLU (RepDistiller's
  ``Regress``).
- Weights: CE 1, hint 100, no KD (RepDistiller ``scripts/run_cifar_distill.sh``: ``-r 1 -a 0
  -b 100``; mdistiller ``FITNET.LOSS``: CE 1.0, FEAT 100.0).
- ``stages: 1``: CE + hint [+ KD] from the first epoch, as both references train it. ``stages: 2`` is
  FitNets' own schedule: for ``stage1_epochs`` epochs the hint loss alone (so only the student up to
  the hint layer and the regressor learn), then ``ce_weight * CE + kd_weight * KD``. The two stages
  share the recipe's optimizer and learning-rate schedule; FitNets gave stage 1 its own.
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from pydantic import Field, ValidationInfo, model_validator
from torch import Size, Tensor, nn

from kdbench.data import Batch
from kdbench.data.split import Split
from kdbench.errors import KdbenchError
from kdbench.methods.base import Distiller
from kdbench.methods.ce import ce_loss
from kdbench.methods.kd import kd_loss
from kdbench.methods.taps import HINT, FeatureTap, probe
from kdbench.types import Params

STAGE1_EPOCHS = 30  # RepDistiller train_student.py --init_epochs: the first stage of two-stage methods


class HintParams(Params):
    ce_weight: float = Field(1.0, ge=0, description="weight of cross-entropy on the labels")
    hint_weight: float = Field(100.0, ge=0, description="weight of the feature regression (MSE)")
    kd_weight: float = Field(0.0, ge=0, description="weight of an optional Hinton KD term (stage 2's "
                             "KD with stages: 2)")
    temperature: float = Field(4.0, gt=0, description="softmax temperature of the KD term")
    student_tap: str = Field(HINT, min_length=1, description="student feature tap; hint: the "
                             "model's middle stage (RepDistiller's hint_layer 2)")
    teacher_tap: str = Field(HINT, min_length=1, description="teacher feature tap; hint: the "
                             "model's middle stage (RepDistiller's hint_layer 2)")
    stages: Literal[1, 2] = Field(1, description="1: CE + hint together (RepDistiller, mdistiller); "
                                  "2: FitNets' hint-only stage, then CE + KD")
    stage1_epochs: int | None = Field(None, ge=1, description="epochs of the hint-only stage, only "
                                      "with stages: 2; default 30 (RepDistiller's --init_epochs)")

    @model_validator(mode="after")
    def _two_stages(self, info: ValidationInfo) -> HintParams:
        if self.stages == 1:
            if self.stage1_epochs is not None:
                raise ValueError("stage1_epochs applies only with stages: 2")
            return self
        if self.stage1_epochs is None:
            object.__setattr__(self, "stage1_epochs", STAGE1_EPOCHS)
        if self.kd_weight == 0:
            raise ValueError("stages: 2 trains stage 2 with KD (FitNets): set kd_weight above 0")
        recipe = (info.context or {}).get("recipe")
        if recipe is not None and self.stage1_epochs >= recipe.epochs:
            raise ValueError(f"stage1_epochs {self.stage1_epochs} leaves no epoch for stage 2 "
                             f"(the recipe has {recipe.epochs} epochs)")
        return self


def hint_loss(projected: Tensor, target: Tensor) -> Tensor:
    """Mean squared error between the regressed student feature and the teacher's feature."""
    return F.mse_loss(projected, target)


def regressor(student: Size, teacher: Size) -> nn.Sequential:
    """The module that maps a student feature of shape ``student`` onto ``teacher``'s shape."""
    if len(student) == len(teacher) == 2:
        return nn.Sequential(nn.Linear(student[1], teacher[1]), nn.ReLU())
    if len(student) != 4 or len(teacher) != 4:
        raise KdbenchError(f"hint: features of shapes {tuple(student)} and {tuple(teacher)} cannot be "
                           "regressed; both must be (N, C) vectors or (N, C, H, W) maps")
    (s_c, s_h, s_w), (t_c, t_h, t_w) = student[1:], teacher[1:]
    conv: nn.Module
    if (s_h, s_w) == (2 * t_h, 2 * t_w):
        conv = nn.Conv2d(s_c, t_c, kernel_size=3, stride=2, padding=1)
    elif (2 * s_h, 2 * s_w) == (t_h, t_w):
        conv = nn.ConvTranspose2d(s_c, t_c, kernel_size=4, stride=2, padding=1)
    elif s_h >= t_h and s_w >= t_w:
        conv = nn.Conv2d(s_c, t_c, kernel_size=(1 + s_h - t_h, 1 + s_w - t_w))
    else:
        raise KdbenchError(f"hint: the teacher's {t_h}x{t_w} map is larger than the student's "
                           f"{s_h}x{s_w} but not twice its size; pick taps whose maps are")
    return nn.Sequential(conv, nn.BatchNorm2d(t_c), nn.ReLU())


class Hint(Distiller[HintParams]):
    """``ce_weight * CE + hint_weight * MSE(regressor(f_s), f_t) [+ kd_weight * KD]``, or with
    ``stages: 2`` the hint term alone until ``stage1_epochs``, then CE + KD."""

    teacher: nn.Module  # hint's MethodInfo needs a teacher

    def __init__(self, student: nn.Module, teacher: nn.Module | None, params: HintParams):
        if teacher is None:
            raise ValueError("hint needs a teacher")
        super().__init__(student, teacher, params)
        self.student_tap = FeatureTap(student, params.student_tap)
        self.teacher_tap = FeatureTap(teacher, params.teacher_tap)
        self.regressor: nn.Sequential | None = None

    def prepare(self, data: Split) -> None:
        images = next(data.eval_batches(2)).images
        shapes = (probe(self.student, self.student_tap, images).shape,
                  probe(self.teacher, self.teacher_tap, images).shape)
        self.regressor = regressor(*shapes).to(images.device)

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        if self.regressor is None:
            raise RuntimeError("hint: call prepare(data) before training (it builds the regressor)")
        p = self.params
        logits, student_feature = self.student_tap.read(self.student, batch.images)
        teacher_logits, teacher_feature = self.teacher_tap.read(self.teacher_logits, batch)
        stage1 = p.stages == 2 and epoch < (p.stage1_epochs or 0)
        terms: dict[str, Tensor] = {}
        if p.stages == 1 or stage1:
            terms["hint"] = p.hint_weight * hint_loss(self.regressor(student_feature), teacher_feature)
        if stage1:
            return terms
        terms["ce"] = p.ce_weight * ce_loss(logits, batch.labels, batch.label_mask)
        if p.kd_weight > 0:
            terms["kd"] = p.kd_weight * kd_loss(logits, teacher_logits, p.temperature)
        return terms
