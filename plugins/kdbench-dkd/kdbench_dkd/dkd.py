"""DKD (Decoupled Knowledge Distillation, Zhao et al., CVPR 2022) for kdbench.

Hinton's KD at temperature T splits per example into target-class KD (TCKD: KL between the
binary distributions [p_target, 1 - p_target] of teacher and student) and non-target-class KD
(NCKD: KL between the distributions over the other classes), KD = TCKD + (1 - p_target^T) * NCKD.
DKD drops the teacher-confidence factor and weighs the two freely: ``tckd_weight`` (the paper's
alpha) and ``nckd_weight`` (its beta), both times T^2, ramped in linearly over ``warmup_epochs``.
The target class is the label where it may be used, else the teacher's top class (the paper
always has labels; this extends it to distillation data without them).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from kdbench.plugin import Batch, Distiller, MethodInfo, Params, ce_loss, hookimpl
from pydantic import AliasChoices, Field, ValidationInfo, model_validator
from torch import Tensor

KDBENCH_API = "1"


class DKDParams(Params):
    ce_weight: float = Field(1.0, ge=0, description="weight of cross-entropy on the labels")
    tckd_weight: float = Field(1.0, ge=0, validation_alias=AliasChoices("tckd_weight", "alpha"),
                               description="weight of target-class KD (alpha in the paper)")
    nckd_weight: float = Field(8.0, ge=0, validation_alias=AliasChoices("nckd_weight", "beta"),
                               description="weight of non-target-class KD (beta in the paper)")
    temperature: float = Field(4.0, gt=0, description="softmax temperature of both networks")
    warmup_epochs: int = Field(20, ge=0, le=10_000, description="epochs over which the KD terms ramp up "
                               "linearly; at most the recipe's epochs")

    @model_validator(mode="after")
    def _cap_warmup(self, info: ValidationInfo) -> DKDParams:
        recipe = (info.context or {}).get("recipe")
        if recipe is not None and self.warmup_epochs > recipe.epochs:
            object.__setattr__(self, "warmup_epochs", recipe.epochs)
        return self


def dkd_terms(student_logits: Tensor, teacher_logits: Tensor, labels: Tensor, temperature: float,
              reduction: Literal["mean", "none"] = "mean") -> tuple[Tensor, Tensor]:
    """(TCKD, NCKD), each T^2 * KL(teacher || student), averaged over the batch or per example."""
    s, t = student_logits / temperature, teacher_logits / temperature
    others = ~F.one_hot(labels, s.shape[1]).bool()

    def split(z: Tensor) -> tuple[Tensor, Tensor]:
        """log [p_target, 1 - p_target] and the log-softmax over the non-target classes."""
        rest = z[others].view(len(z), -1)
        binary = torch.stack([z.gather(1, labels[:, None])[:, 0], rest.logsumexp(1)], dim=1)
        return binary - z.logsumexp(1, keepdim=True), F.log_softmax(rest, dim=1)

    (s_binary, s_rest), (t_binary, t_rest) = split(s), split(t)
    tckd = F.kl_div(s_binary, t_binary, reduction="none", log_target=True).sum(1)
    nckd = F.kl_div(s_rest, t_rest, reduction="none", log_target=True).sum(1)
    scale = temperature**2
    if reduction == "mean":
        return tckd.mean() * scale, nckd.mean() * scale
    return tckd * scale, nckd * scale


def warmup_factor(epoch: int, warmup_epochs: int) -> float:
    """Linear ramp of the KD terms: (epoch + 1) / warmup_epochs, at most 1 (epochs count from 0)."""
    return 1.0 if warmup_epochs == 0 else min((epoch + 1) / warmup_epochs, 1.0)


def target_classes(labels: Tensor, label_mask: Tensor, teacher_logits: Tensor) -> Tensor:
    """Each example's target class: its label where it may be used, else the teacher's top class."""
    return torch.where(label_mask, labels, teacher_logits.argmax(1))


class DKD(Distiller[DKDParams]):
    """``ce_weight * CE + ramp * (tckd_weight * TCKD + nckd_weight * NCKD)``, logged per term."""

    teacher_outputs = "logits"  # only teacher_logits(batch): kdbench may serve them from its cache

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        p = self.params
        logits, teacher = self.student(batch.images), self.teacher_logits(batch)
        targets = target_classes(batch.labels, batch.label_mask, teacher)
        tckd, nckd = dkd_terms(logits, teacher, targets, p.temperature)
        ramp = warmup_factor(epoch, p.warmup_epochs)
        return {"ce": p.ce_weight * ce_loss(logits, batch.labels, batch.label_mask),
                "tckd": ramp * p.tckd_weight * tckd, "nckd": ramp * p.nckd_weight * nckd}


def uses_ce(params: DKDParams) -> bool:
    """DKD needs labels only for its cross-entropy term; its KD terms fall back on the teacher."""
    return params.ce_weight > 0


@hookimpl
def kdbench_methods() -> list[MethodInfo]:
    return [MethodInfo("dkd", "decoupled KD (Zhao et al. 2022): CE + target and non-target class "
                       "KD, weighted apart", DKD, DKDParams, needs_labels=uses_ce)]
