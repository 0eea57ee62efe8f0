"""Grad-CAM localisation overlap (Ojha et al. 2023, Figure 3): Grad-CAM maps (Selvaraju et al.,
ICCV 2017) of the ground-truth class, and the percent of images whose teacher map is closer
(cosine) to the student's map than to the map of a student trained without the teacher."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from kdbench.data.split import Split
from kdbench.methods.taps import resolve_tap
from kdbench.probes.common import batches, percent
from kdbench.types import Params

UNITS = {"closer": "%", "student": "cosine", "reference": "cosine"}


class GradCAMParams(Params):
    student_tap: str = Field("hint", description="the students' feature tap whose output the maps "
                             "weigh (`kdbench show model NAME` lists them; default: the hint tap)")
    teacher_tap: str = Field("hint", description="the teacher's feature tap")


def gradcam(model: nn.Module, tap: str, images: Tensor, labels: Tensor) -> Tensor:
    """Grad-CAM maps (N, H, W) at the images' size: ReLU of the tap's channels weighed by the
    spatial mean of the labels' logit gradients, upsampled bilinearly."""
    module, takes_input = resolve_tap(model, tap)
    kept: list[Tensor] = []

    def keep(_: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        kept.append(inputs[0] if takes_input else output)

    handle = module.register_forward_hook(keep)
    try:
        with torch.enable_grad():  # through the input, so that frozen networks have gradients too
            logits = model(images.detach().requires_grad_(True))
            feature = kept[0]
            (grad,) = torch.autograd.grad(logits.gather(1, labels[:, None]).sum(), feature)
    finally:
        handle.remove()
    if feature.ndim != 4:
        raise ValueError(f"Grad-CAM needs a spatial feature (N, C, H, W) at tap {tap!r}, got shape "
                         f"{tuple(feature.shape)}")
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * feature).sum(1, keepdim=True)).detach()
    return F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]


def cosine(a: Tensor, b: Tensor) -> Tensor:
    """Cosine similarity of flattened maps, one per image; 0 where either map is all zero."""
    return F.cosine_similarity(a.flatten(1), b.flatten(1), dim=1, eps=1e-12)


def localisation(student: nn.Module, teacher: nn.Module, reference: nn.Module | None, split: Split,
                 params: GradCAMParams, *, device: torch.device,
                 generator: torch.Generator) -> dict[str, float | None]:
    """``closer``: percent of images where the teacher's map is closer to the student's than to the
    reference student's (ties count half; chance is 50); ``student``, ``reference``: the mean
    cosine of their maps with the teacher's."""
    if reference is None:
        raise ValueError("the Grad-CAM probe compares with a reference student; none was given")
    closer, total = 0.0, 0
    sums = {"student": 0.0, "reference": 0.0}
    for images, labels in batches(split, device):
        taught = gradcam(teacher, params.teacher_tap, images, labels)
        near = cosine(taught, gradcam(student, params.student_tap, images, labels))
        far = cosine(taught, gradcam(reference, params.student_tap, images, labels))
        closer += float((near > far).sum()) + 0.5 * float((near == far).sum())
        sums["student"] += float(near.sum())
        sums["reference"] += float(far.sum())
        total += len(labels)
    return {"closer": percent(closer, total),
            "student": sums["student"] / total if total else None,
            "reference": sums["reference"] / total if total else None}
