"""Invariance transfer (Ojha et al. 2023, Tables 7 and 10): how often a network's prediction on an
image and on its transformed copy T(x) agree, for a teacher trained with T as augmentation and for
students trained without it."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from kdbench.data.split import Split
from kdbench.probes.common import batches, percent
from kdbench.probes.transforms import colourize, contrast, rotate, to_inputs, to_pixels, translate
from kdbench.types import Params

Transform = Literal["rotation", "colour", "contrast", "translation"]
UNITS = {"student": "%", "teacher": "%", "student_acc": "%", "teacher_acc": "%"}


class InvarianceParams(Params):
    transform: Transform = Field(description="T: rotation by degrees, colour (grey images coloured "
                                 "with random foreground and background colours), contrast scaled "
                                 "by factor, or translation by shift pixels right and down")
    degrees: float = Field(30.0, ge=-360, le=360, description="rotation: the angle, counter-clockwise")
    factor: float = Field(0.5, ge=0, le=10, description="contrast: the scale about the mean")
    shift: int = Field(3, ge=-64, le=64, description="translation: pixels right and down")


def transformed(images: Tensor, split: Split, params: InvarianceParams,
                generator: torch.Generator) -> Tensor:
    """T(x) of a batch of normalized inputs, normalized again."""
    pixels = to_pixels(images, split.mean, split.std)
    if params.transform == "rotation":
        pixels = rotate(pixels, params.degrees)
    elif params.transform == "contrast":
        pixels = contrast(pixels, params.factor)
    elif params.transform == "translation":
        pixels = translate(pixels, params.shift)
    else:
        pixels = colourize(pixels, generator)
    return to_inputs(pixels, split.mean, split.std)


@torch.no_grad()
def invariance(student: nn.Module, teacher: nn.Module, reference: nn.Module | None, split: Split,
               params: InvarianceParams, *, device: torch.device,
               generator: torch.Generator) -> dict[str, float | None]:
    """Percent of images whose prediction is the same on x and T(x) (``student``, ``teacher``) and
    the accuracy on T(x) (``student_acc``, ``teacher_acc``)."""
    same = {"student": 0, "teacher": 0}
    right = {"student": 0, "teacher": 0}
    total = 0
    for images, labels in batches(split, device):
        changed = transformed(images, split, params, generator)
        for who, model in (("student", student), ("teacher", teacher)):
            moved = model(changed).argmax(1)
            same[who] += int((model(images).argmax(1) == moved).sum())
            right[who] += int((moved == labels).sum())
        total += len(labels)
    return {"student": percent(same["student"], total), "teacher": percent(same["teacher"], total),
            "student_acc": percent(right["student"], total),
            "teacher_acc": percent(right["teacher"], total)}
