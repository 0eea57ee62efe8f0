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


def ce_loss(logits: Tensor, labels: Tensor, label_mask: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Mean cross-entropy of ``logits`` against integer ``labels`` over the examples whose label
    may be used (``label_mask``); the hidden labels' values never matter, and a batch of only
    hidden labels gives 0 (with a gradient path, so the sum of terms still backpropagates)."""
    if bool(label_mask.all()):
        return F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    if not bool(label_mask.any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits[label_mask], labels[label_mask], label_smoothing=label_smoothing)


class CE(Distiller[CEParams]):
    """Cross-entropy on the labels only; never uses a teacher."""

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        logits = self.student(batch.images)
        return {"ce": ce_loss(logits, batch.labels, batch.label_mask, self.params.label_smoothing)}
