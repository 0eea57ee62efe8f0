"""Agreement on the teacher's errors: of the images the teacher gets wrong, how often the student
makes the same wrong prediction (does it copy the teacher's mistakes?)."""

from __future__ import annotations

import torch
from torch import nn

from kdbench.data.split import Split
from kdbench.probes.common import batches, percent
from kdbench.types import NoParams

UNITS = {"student": "%", "teacher_errors": "%"}


@torch.no_grad()
def error_agreement(student: nn.Module, teacher: nn.Module, reference: nn.Module | None, split: Split,
                    params: NoParams, *, device: torch.device,
                    generator: torch.Generator) -> dict[str, float | None]:
    """``student``: percent of the teacher's errors where the student predicts the teacher's wrong
    class (None when the teacher makes none); ``teacher_errors``: the teacher's error rate."""
    errors = copied = total = 0
    for images, labels in batches(split, device):
        taught = teacher(images).argmax(1)
        wrong = taught != labels
        errors += int(wrong.sum())
        if wrong.any():
            copied += int((student(images[wrong]).argmax(1) == taught[wrong]).sum())
        total += len(labels)
    return {"student": percent(copied, errors), "teacher_errors": percent(errors, total)}
