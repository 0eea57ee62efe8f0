"""Logit standardization applied to DKD (Sun et al., CVPR 2024; "DKD+Ours" in the authors' README):
DKD's two terms computed on the z-scored logits at a base temperature; needs kdbench-dkd.

The authors' ``--logit-stand`` multiplies DKD's alpha and beta by ``--kd-weight`` (9) and sets the
temperature to ``--base-temp`` (2) (``tools/train.py``); the defaults are those applied to
mdistiller's CIFAR-100 DKD defaults (alpha 1, beta 8), its ResNet-32x4 -> ResNet-8x4 setting.
"""

from __future__ import annotations

import torch
from kdbench.plugin import Batch, ce_loss
from kdbench_dkd import DKD, DKDParams, dkd_terms, warmup_factor
from pydantic import AliasChoices, Field
from torch import Tensor

from kdbench_lskd.lskd import zscore


class LSDKDParams(DKDParams):
    tckd_weight: float = Field(9.0, ge=0, validation_alias=AliasChoices("tckd_weight", "alpha"),
                               description="weight of target-class KD (alpha in the paper: 1 x 9)")
    nckd_weight: float = Field(72.0, ge=0, validation_alias=AliasChoices("nckd_weight", "beta"),
                               description="weight of non-target-class KD (beta in the paper: 8 x 9)")
    temperature: float = Field(2.0, gt=0, description="base temperature applied to the z-scored logits")


def uses_ce(params: LSDKDParams) -> bool:
    """Labels are needed only for the cross-entropy term; the target falls back on the teacher's."""
    return params.ce_weight > 0


class LSDKD(DKD):
    """DKD on standardized logits: ``ce_weight * CE + ramp * (tckd_weight * TCKD + nckd_weight * NCKD)``."""

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        p = self.params
        logits, teacher = self.student(batch.images), self.teacher_logits(batch)
        targets = torch.where(batch.label_mask, batch.labels, teacher.argmax(1))
        tckd, nckd = dkd_terms(zscore(logits), zscore(teacher), targets, p.temperature)
        ramp = warmup_factor(epoch, p.warmup_epochs)
        return {"ce": p.ce_weight * ce_loss(logits, batch.labels, batch.label_mask),
                "tckd": ramp * p.tckd_weight * tckd, "nckd": ramp * p.nckd_weight * nckd}
