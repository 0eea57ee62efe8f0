"""A view bank: the teacher's logits of every view of every training image (each crop offset and
flip that the augmentation can draw), computed once per teacher, data and augmentation and served
by (index, view) to every student of that teacher. On augmented data it replaces a teacher forward
per image per epoch per student with ``view_count`` forwards per image for the whole sweep.

The planner asks for one when it pays: when the views of an image are no more than the epochs of
all the sweep's runs that would otherwise run that teacher live (``kdbench run --view-bank``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from kdbench.data import Batch
from kdbench.data.augment import apply_views, normalize, view_count
from kdbench.data.split import Split
from kdbench.data.tensors import ImageTensors
from kdbench.engine.evaluate import inference_batch
from kdbench.engine.step import laid_out, memory_format_for
from kdbench.methods import Distiller
from kdbench.specs import Recipe

LIMIT_BYTES = 1 << 30
"""The largest bank kept (float32 logits in memory and on disk); a larger one runs the teacher live."""


@dataclass(frozen=True)
class ViewBank:
    """Logits (N, views, classes) served by ``batch.index`` and ``batch.view``: the
    ``Distiller.teacher_source`` that stands in for the live teacher on augmented batches."""

    logits: Tensor

    def __call__(self, batch: Batch) -> Tensor:
        if batch.view is None:
            raise RuntimeError("a view bank serves only augmented batches of in-memory data")
        return self.logits[batch.index, batch.view]


def bank_bytes(data: Split, recipe: Recipe) -> int:
    """The size of ``data``'s bank under ``recipe``'s augmentation, in bytes (float32)."""
    return len(data) * view_count(recipe.augment, recipe.crop_padding) * data.num_classes * 4


def can_bank(distiller: Distiller[Any], recipe: Recipe, data: Split) -> bool:
    """Whether a bank can stand in for the teacher (``why_not_bank`` says why not)."""
    return why_not_bank(distiller, recipe, data) is None


def why_not_bank(distiller: Distiller[Any], recipe: Recipe, data: Split) -> str | None:
    """Why a bank cannot stand in for the teacher, or None when it can: the method must read only
    the teacher's logits, the data be augmented, in memory (whose views a bank can render) and
    small enough, and no hook watch the teacher."""
    name, teacher = type(distiller).__name__, distiller.teacher
    if teacher is None:
        return f"{name} has no teacher"
    if type(distiller).teacher_outputs != "logits":
        return f"{name} reads the teacher's features, and a bank holds only its logits"
    problem = why_not_bank_data(recipe, data)
    if problem is not None:
        return problem
    if watched(teacher):
        return "a hook watches the teacher, and would see nothing of a bank"
    return None


def why_not_bank_data(recipe: Recipe, data: Split) -> str | None:
    """Why ``data`` under ``recipe`` can have no bank, whatever the method, or None when it can:
    the images must be augmented, in memory and few enough. The planner asks it before any
    teacher exists, so that a plan never promises a bank that no run could make."""
    if not recipe.augment:
        return "the images are not augmented (the teacher's logits table serves them)"
    if not isinstance(data, ImageTensors):
        return "the images are streamed from disk, and a bank renders views of images in memory"
    if bank_bytes(data, recipe) > LIMIT_BYTES:
        return (f"the bank would take {bank_bytes(data, recipe) / (1 << 30):.1f} GiB, more than "
                f"{LIMIT_BYTES >> 30} GiB")
    return None


def watched(teacher: nn.Module) -> bool:
    """Whether a hook watches ``teacher`` or a module inside it (a feature tap would see nothing
    of a teacher whose logits come from a table or a bank)."""
    return any(module._forward_hooks or module._forward_pre_hooks for module in teacher.modules())


def worth_banking(recipe: Recipe, teacher_epochs: int) -> bool:
    """Whether a bank costs fewer teacher forwards than running the teacher live for
    ``teacher_epochs`` epochs (over all the runs that would share it)."""
    return bool(recipe.augment) and view_count(recipe.augment, recipe.crop_padding) <= teacher_epochs


@torch.no_grad()
def make_bank(teacher: nn.Module, data: ImageTensors, recipe: Recipe, batch_size: int,
              device: torch.device, on_view: Callable[[int], None] | None = None) -> Tensor:
    """Float32 logits (N, views, classes), on the CPU, of ``teacher`` on every view of ``data``;
    ``on_view(view)`` after each view (a progress bar: a bank can take as long as many epochs)."""
    augment, padding = recipe.augment, recipe.crop_padding
    views = view_count(augment, padding)
    bank = torch.empty(len(data), views, data.num_classes)
    was_training = teacher.training
    teacher.eval()
    layout, batch_size = memory_format_for(teacher), inference_batch(batch_size, device)
    with laid_out(teacher, layout):
        for view in range(views):
            for start in range(0, len(data), batch_size):
                images = data.images[start:start + batch_size]
                images = apply_views(images, torch.full((len(images),), view), augment, padding)
                images = normalize(images, data.mean, data.std).to(device).contiguous(memory_format=layout)
                bank[start:start + len(images), view] = teacher(images).float().cpu()
            if on_view is not None:
                on_view(view)
    teacher.train(was_training)
    return bank
