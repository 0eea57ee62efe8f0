"""VID, variational information distillation (Ahn et al., CVPR 2019), as RepDistiller and
mdistiller run it.

Each default's source:

- Per pair of maps, a regressor predicts the teacher's map from the student's: three 1x1
  convolutions without bias, student -> teacher -> teacher -> teacher channels, ReLU between
  (RepDistiller ``train_student.py`` builds ``VIDLoss(s, t, t)``: the middle width is the
  teacher's), and a learned variance per teacher channel, softplus(log_scale) + eps, eps 1e-5,
  started at ``init_pred_var`` 5 (RepDistiller ``distiller_zoo/VID.py``, mdistiller ``VID.EPS``,
  ``VID.INIT_PRED_VAR``). The larger map of a pair is average-pooled to the smaller first.
- Loss: the Gaussian negative log-likelihood without its constant, the mean over all entries of
  0.5 * ((mu - t)^2 / var + log var), summed over the pairs.
- Taps: every stage after the stem (RepDistiller ``feat[1:-1]``, mdistiller ``feats[1:]``).
- Weights: CE 1, VID 1, no KD (RepDistiller ``scripts/run_cifar_distill.sh``: ``-a 0 -b 1``;
  mdistiller ``VID.LOSS``: CE 1.0, FEAT 1.0).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from kdbench.methods.feature import FeatureDistiller, FeatureParams, match_sizes


class VIDParams(FeatureParams):
    vid_weight: float = Field(1.0, ge=0, description="weight of the negative log-likelihood")
    init_pred_var: float = Field(5.0, gt=0, description="initial variance of each teacher channel")
    eps: float = Field(1e-5, gt=0, description="floor of the variance")


def vid_loss(mean: Tensor, target: Tensor, log_scale: Tensor, eps: float) -> Tensor:
    """Mean of 0.5 * ((mean - target)^2 / var + log var), var = softplus(log_scale) + eps per channel."""
    var = (F.softplus(log_scale) + eps).view(1, -1, 1, 1)
    return (0.5 * ((mean - target).pow(2) / var + var.log())).mean()


class VariationalRegressor(nn.Module):
    """The predicted mean of a teacher map from a student map, and the variance per channel."""

    def __init__(self, student_channels: int, teacher_channels: int, init_pred_var: float, eps: float):
        super().__init__()
        conv = lambda c_in, c_out: nn.Conv2d(c_in, c_out, 1, bias=False)  # noqa: E731
        self.mean = nn.Sequential(conv(student_channels, teacher_channels), nn.ReLU(),
                                  conv(teacher_channels, teacher_channels), nn.ReLU(),
                                  conv(teacher_channels, teacher_channels))
        start = math.log(math.expm1(init_pred_var - eps))  # softplus(start) + eps == init_pred_var
        self.log_scale = nn.Parameter(torch.full((teacher_channels,), start))
        self.eps = eps

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        student, teacher = match_sizes(student, teacher)
        return vid_loss(self.mean(student), teacher, self.log_scale, self.eps)


class VID(FeatureDistiller[VIDParams]):
    """``ce_weight * CE + vid_weight * sum of the regressors' losses [+ kd_weight * KD]`` over the
    stages' maps; the regressors are the method's own modules."""

    name = "vid"
    default = "stages"
    needs_maps = True

    def build(self, student: list[Tensor], teacher: list[Tensor]) -> None:
        p = self.params
        self.regressors = nn.ModuleList([
            VariationalRegressor(s.shape[1], t.shape[1], p.init_pred_var, p.eps).to(s.device)
            for s, t in zip(student, teacher, strict=True)])

    def feature_terms(self, student: list[Tensor], teacher: list[Tensor]) -> dict[str, Tensor]:
        pairs = zip(student, teacher, self.regressors, strict=True)
        loss = sum((regressor(s, t) for s, t, regressor in pairs), student[0].new_zeros(()))
        return {"vid": self.params.vid_weight * loss}
