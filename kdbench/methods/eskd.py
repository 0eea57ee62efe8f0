"""ESKD (Cho & Hariharan, 2019): KD until ``stop_epoch``, then cross-entropy alone.

After the stop the teacher is never run again. The default stop is the student recipe's first
learning-rate decay (half the epochs for a schedule without milestones); the exact epoch in the
paper is not certain (papers.md: U), so it is a parameter.
"""

from __future__ import annotations

from pydantic import ValidationInfo, model_validator
from torch import Tensor

from kdbench.data import Batch
from kdbench.methods.ce import ce_loss
from kdbench.methods.kd import KD, KDParams


class ESKDParams(KDParams):
    stop_epoch: int | None = None

    @model_validator(mode="after")
    def _default_stop(self, info: ValidationInfo) -> ESKDParams:
        recipe = (info.context or {}).get("recipe")
        if recipe is None:
            return self
        stop = self.stop_epoch
        if stop is None:
            stop = recipe.milestones[0] if recipe.milestones else recipe.epochs // 2
        if not 0 <= stop <= recipe.epochs:
            raise ValueError(f"stop_epoch {stop} is outside 0..{recipe.epochs} (the recipe's epochs)")
        object.__setattr__(self, "stop_epoch", stop)
        return self


class ESKD(KD):
    """KD for epochs ``< stop_epoch``; plain cross-entropy (weight 1) from then on."""

    params: ESKDParams

    def uses_teacher(self, epoch: int) -> bool:
        if self.params.stop_epoch is None:
            raise ValueError("eskd: stop_epoch was not resolved against a recipe")
        return epoch < self.params.stop_epoch

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        if self.uses_teacher(epoch):
            return super().forward(batch, epoch)
        return {"ce": ce_loss(self.student(batch.images), batch.labels, batch.label_mask)}
