"""CE: the student trained alone on its labels, the baseline of every track."""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from kdbench.data import Batch
from kdbench.methods.base import Distiller
from kdbench.types import Params


class CEParams(Params):
    label_smoothing: float = Field(0.0, ge=0, lt=1)


def ce_loss(logits: Tensor, labels: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Mean cross-entropy of ``logits`` against integer ``labels``; hidden labels (-1, from
    distillation data used without labels) are left out, and a batch of only those gives 0."""
    if bool((labels < 0).all()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits, labels, ignore_index=-1, label_smoothing=label_smoothing)


class CE(Distiller):
    """Cross-entropy on the labels only; never uses a teacher."""

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        return {"ce": ce_loss(self.student(batch.images), batch.labels, self.params.label_smoothing)}
