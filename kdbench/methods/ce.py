"""CE: the student trained alone on its labels, the baseline of every track."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from kdbench.data import Batch
from kdbench.methods.base import Distiller
from kdbench.types import Params


class CEParams(Params):
    label_smoothing: float = Field(0.0, ge=0, lt=1)


IGNORE = -100
"""The target of an example whose label is hidden (``F.cross_entropy``'s default ``ignore_index``)."""


def ce_loss(logits: Tensor, labels: Tensor, label_mask: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Mean cross-entropy of ``logits`` against integer ``labels`` over the examples whose label
    may be used (``label_mask``); the hidden labels' values never matter, and a batch of only
    hidden labels gives 0 (with a gradient path, so the sum of terms still backpropagates).

    Branch-free, so ``torch.compile`` traces it whole: hidden labels become ``IGNORE``, and in a
    batch without a known label example 0 stands in for one and the loss is multiplied by 0."""
    known = label_mask.any()
    targets = torch.where(label_mask, labels, IGNORE)
    targets[0] = torch.where(known, targets[0], 0)
    loss = F.cross_entropy(logits, targets, ignore_index=IGNORE, label_smoothing=label_smoothing)
    return loss * known


class CE(Distiller[CEParams]):
    """Cross-entropy on the labels only; never uses a teacher."""

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        logits = self.student(batch.images)
        return {"ce": ce_loss(logits, batch.labels, batch.label_mask, self.params.label_smoothing)}
