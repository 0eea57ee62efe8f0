"""Logit standardization for KD (Sun et al., "Logit Standardization in Knowledge Distillation",
CVPR 2024): each network's logits are z-scored per example before the softmax at a base
temperature, so the student matches the teacher's logit relations, not their range and variance.

The z-score is the authors' ``normalize`` (sunshangquan/logit-standardization-KD,
``mdistiller/distillers/KD.py``): ``(z - mean) / (1e-7 + std)`` with the unbiased standard deviation
over the classes. Cross-entropy still sees the raw logits. Defaults: the authors' CIFAR-100 setting
(``--base-temp 2 --kd-weight 9`` with mdistiller's KD ``CE_WEIGHT`` 0.1).
"""

from __future__ import annotations

from kdbench.plugin import Batch, Distiller, Params, ce_loss, kd_loss
from pydantic import Field
from torch import Tensor

EPS = 1e-7  # added to the standard deviation, as the reference does


def zscore(logits: Tensor) -> Tensor:
    """Each row standardized: zero mean and unit (unbiased) standard deviation over the classes."""
    mean = logits.mean(dim=1, keepdim=True)
    return (logits - mean) / (EPS + logits.std(dim=1, keepdim=True))


class LSKDParams(Params):
    ce_weight: float = Field(0.1, ge=0, description="weight of cross-entropy on the labels")
    kd_weight: float = Field(9.0, ge=0, description="weight of KD between the standardized logits")
    temperature: float = Field(2.0, gt=0, description="base temperature applied to the z-scored logits "
                               "of both networks; the KD term is multiplied by T^2")


def uses_ce(params: LSKDParams) -> bool:
    """Labels are needed only for the cross-entropy term."""
    return params.ce_weight > 0


class LSKD(Distiller[LSKDParams]):
    """``ce_weight * CE(logits) + kd_weight * kd_loss(zscore(logits), zscore(teacher), T)``."""

    teacher_outputs = "logits"  # only teacher_logits(batch): kdbench may serve them from its cache

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        p = self.params
        logits, teacher = self.student(batch.images), self.teacher_logits(batch)
        return {"ce": p.ce_weight * ce_loss(logits, batch.labels, batch.label_mask),
                "kd": p.kd_weight * kd_loss(zscore(logits), zscore(teacher), p.temperature)}
