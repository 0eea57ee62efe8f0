"""KD (Hinton et al., 2015): cross-entropy on labels plus the teacher's softened predictions."""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from kdbench.data import Batch
from kdbench.methods.base import Distiller
from kdbench.methods.ce import ce_loss
from kdbench.types import Params


class KDParams(Params):
    ce_weight: float = Field(0.1, ge=0, description="weight of cross-entropy on the labels")
    kd_weight: float = Field(0.9, ge=0, description="weight of the distillation term")
    temperature: float = Field(4.0, gt=0, description="softmax temperature of both networks")


def kd_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """T^2 * KL(softmax(t/T) || softmax(s/T)), averaged over the batch.

    The T^2 keeps gradient magnitudes comparable across temperatures (Hinton et al.).
    """
    log_p_s = F.log_softmax(student_logits / temperature, dim=1)
    log_p_t = F.log_softmax(teacher_logits / temperature, dim=1)
    kl = F.kl_div(log_p_s, log_p_t, reduction="batchmean", log_target=True)
    return kl * temperature**2


class KD(Distiller[KDParams]):
    """``ce_weight * CE(labels) + kd_weight * kd_loss``; the teacher runs on the same batch."""

    teacher_outputs = "logits"

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        p = self.params
        logits = self.student(batch.images)
        teacher = self.teacher_logits(batch)
        return {"ce": p.ce_weight * ce_loss(logits, batch.labels, batch.label_mask),
                "kd": p.kd_weight * kd_loss(logits, teacher, p.temperature)}
