"""DIST (Huang et al., "Knowledge Distillation from A Stronger Teacher", NeurIPS 2022) for kdbench.

DIST replaces KD's exact match of probabilities by a match of relations, which a student can
follow when the teacher is much stronger: the Pearson correlation between the student's and the
teacher's softened predictions of each example (inter-class relation) and of each class across the
batch (intra-class relation). Each term is ``1 - mean correlation``, times T^2. The formula and the
defaults follow the authors' code (hunto/image_classification_sota, ``lib/models/losses/dist_kd.py``
and ``configs/strategies/distill/dist_cifar.yaml``): see this distribution's README.
"""

from __future__ import annotations

import torch.nn.functional as F
from kdbench.plugin import Batch, Distiller, MethodInfo, Params, ce_loss, hookimpl
from pydantic import Field
from torch import Tensor

KDBENCH_API = "1"

EPS = 1e-8  # added to the product of the norms, as the reference does


class DISTParams(Params):
    ce_weight: float = Field(1.0, ge=0, description="weight of cross-entropy on the labels")
    inter_weight: float = Field(2.0, ge=0, description="weight of the inter-class relation term (beta)")
    intra_weight: float = Field(2.0, ge=0, description="weight of the intra-class relation term (gamma)")
    temperature: float = Field(4.0, gt=0, description="softmax temperature of both networks "
                               "(4 on CIFAR-100, 1 on ImageNet); both terms are multiplied by T^2")


def pearson(a: Tensor, b: Tensor) -> Tensor:
    """The Pearson correlation of each row of ``a`` with the same row of ``b``: shape (rows,)."""
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1) + EPS)


def dist_terms(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
    """(inter, intra): T^2 (1 - mean row correlation) of the softened predictions, over examples
    (inter-class relation) and over classes across the batch (intra-class relation)."""
    p_s = F.softmax(student_logits / temperature, dim=1)
    p_t = F.softmax(teacher_logits / temperature, dim=1)
    scale = temperature**2
    inter = scale * (1 - pearson(p_s, p_t).mean())
    intra = scale * (1 - pearson(p_s.t(), p_t.t()).mean())
    return inter, intra


class DIST(Distiller[DISTParams]):
    """``ce_weight * CE + inter_weight * inter + intra_weight * intra``, logged per term."""

    teacher_outputs = "logits"  # only teacher_logits(batch): kdbench may serve them from its cache

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        p = self.params
        logits, teacher = self.student(batch.images), self.teacher_logits(batch)
        inter, intra = dist_terms(logits, teacher, p.temperature)
        return {"ce": p.ce_weight * ce_loss(logits, batch.labels, batch.label_mask),
                "inter": p.inter_weight * inter, "intra": p.intra_weight * intra}


def uses_ce(params: DISTParams) -> bool:
    """DIST needs labels only for its cross-entropy term; the relation terms use none."""
    return params.ce_weight > 0


@hookimpl
def kdbench_methods() -> list[MethodInfo]:
    return [MethodInfo("dist", "DIST (Huang et al. 2022): CE + Pearson-correlation match of the "
                       "predictions per example and per class", DIST, DISTParams, needs_labels=uses_ce,
                       supports_ddp=False)]
