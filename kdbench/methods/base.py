"""The distiller: a small module that wraps a student (and a frozen teacher) and returns the
named, already weighted loss terms of one batch. The engine sums them for backward and logs them."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Generic, Literal, TypeVar

import torch
from pydantic import BaseModel
from torch import Tensor, nn

from kdbench.data import Batch
from kdbench.data.split import Split

P = TypeVar("P", bound=BaseModel)
TeacherLogits = Callable[[Batch], Tensor]
"""A source of the teacher's logits of a training batch: the live teacher, or a table of them."""


class Distiller(nn.Module, Generic[P]):
    """Base class of every method, generic in its parameters' type (``Distiller[KDParams]``).
    Subclasses implement ``forward(batch, epoch)``.

    Extra trainable modules (a hint regressor, embeddings) are ordinary submodules: they are
    optimized and saved with the student. The teacher is frozen and always in eval mode. Labels
    are used only where ``batch.label_mask`` is True (``ce_loss`` does this).
    """

    params: P
    teacher_outputs: ClassVar[Literal["logits", "features"]] = "features"
    """What ``forward`` reads of the teacher: ``"logits"`` (only ``teacher_logits(batch)``), which
    lets the engine serve them from a cache when the data are not augmented, or ``"features"``
    (feature taps as well, the safe default), which keeps the teacher running on every batch."""

    def __init__(self, student: nn.Module, teacher: nn.Module | None, params: P):
        super().__init__()
        self.student = student
        self.teacher = teacher
        self.params = params
        self.teacher_source: TeacherLogits | None = None
        if teacher is not None:
            teacher.requires_grad_(False)
            teacher.eval()

    def train(self, mode: bool = True) -> Distiller:
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    def prepare(self, data: Split) -> None:
        """Build the parts whose shape depends on the data (a hint regressor, CRD's memory), on
        the data's device, before the optimizer is made. The default has nothing to build."""

    def uses_teacher(self, epoch: int) -> bool:
        """Whether ``forward`` asks for the teacher in this epoch; the engine records it in each
        epoch's history. A method that stops using its teacher (ESKD) overrides it."""
        return self.teacher is not None

    def teacher_logits(self, batch: Batch) -> Tensor:
        """The teacher's logits on exactly the student's (augmented) batch, without gradients.
        It takes the whole batch so that the engine may serve them from a cache by ``batch.index``
        (``teacher_source``, which the engine sets only for ``teacher_outputs = "logits"``)."""
        if self.teacher_source is not None:
            return self.teacher_source(batch)
        if self.teacher is None:
            raise RuntimeError(f"{type(self).__name__} has no teacher")
        with torch.no_grad():
            return self.teacher(batch.images)

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        """The named, weighted loss terms of one training batch; their sum is minimized."""
        raise NotImplementedError

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The student's parameters and the method's own, never the teacher's."""
        return [p for name, p in self.named_parameters() if not name.startswith("teacher.")]

    def student_state_dict(self) -> dict[str, Tensor]:
        """What a checkpoint keeps: the student and the method's own modules, not the teacher."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("teacher.")}
