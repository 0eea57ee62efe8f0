"""Label smoothing (Szegedy et al., "Rethinking the Inception Architecture", CVPR 2016): the student
trained alone on labels mixed with a uniform distribution. No teacher: the control that separates
what KD gains from regularising the targets from what it gains from the teacher's knowledge (Yuan
et al., CVPR 2020; Müller et al., NeurIPS 2019).

``spread: all`` is Szegedy et al.'s (and ``torch.nn.functional.cross_entropy``'s) target
``(1 - eps) * one_hot + eps / K``; ``spread: others`` is the one of Yuan et al.'s code
(``loss_label_smoothing`` in yuanli2333/Teacher-free-Knowledge-Distillation, ``my_loss_function.py``):
``1 - eps`` on the label and ``eps / (K - 1)`` on each other class. The default eps, 0.1, is both
papers' (Szegedy et al. section 7, and Yuan et al.'s code).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from kdbench.data import Batch
from kdbench.methods.base import Distiller
from kdbench.types import Params


class LabelSmoothingParams(Params):
    label_smoothing: float = Field(0.1, ge=0, lt=1, description="mass eps taken from the label and "
                                   "spread over the classes")
    spread: Literal["all", "others"] = Field("all", description="spread eps over all K classes (Szegedy "
                                             "et al., PyTorch) or over the K - 1 others (Yuan et al.'s code)")


def smoothed_targets(labels: Tensor, num_classes: int, label_smoothing: float,
                     spread: Literal["all", "others"]) -> Tensor:
    """The target distribution of each label: (N, num_classes), rows summing to 1."""
    if spread == "all":
        off, on = label_smoothing / num_classes, 1 - label_smoothing + label_smoothing / num_classes
    else:
        off, on = label_smoothing / (num_classes - 1), 1 - label_smoothing
    targets = torch.full((len(labels), num_classes), off, dtype=torch.float32, device=labels.device)
    return targets.scatter_(1, labels[:, None], on)


def soft_cross_entropy(logits: Tensor, targets: Tensor, label_mask: Tensor) -> Tensor:
    """Mean over the examples whose label may be used of -sum_c target_c log softmax(logits)_c;
    0 with a gradient path when every label is hidden."""
    losses = -(targets.to(logits.dtype) * F.log_softmax(logits, dim=1)).sum(dim=1)
    if not bool(label_mask.any()):
        return logits.sum() * 0.0
    return losses[label_mask].mean()


class LabelSmoothing(Distiller[LabelSmoothingParams]):
    """Cross-entropy against smoothed labels; never uses a teacher."""

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        p = self.params
        logits = self.student(batch.images)
        labels = torch.where(batch.label_mask, batch.labels, 0)  # hidden labels' values never matter
        targets = smoothed_targets(labels, logits.shape[1], p.label_smoothing, p.spread)
        return {"ce": soft_cross_entropy(logits, targets, batch.label_mask)}
