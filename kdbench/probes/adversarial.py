"""Adversarial transfer (Ojha et al. 2023, Table 6): L-inf examples crafted on the teacher with
FGSM (Goodfellow et al. 2015) or iterative FGSM / PGD without random start (Kurakin et al. 2017;
Madry et al. 2018), and how many of those that fool the teacher also fool the student."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor, nn

from kdbench.data.split import Split
from kdbench.probes.common import batches, percent
from kdbench.probes.transforms import to_inputs, to_pixels
from kdbench.types import Params

UNITS = {"student": "%", "teacher": "%"}
PGD_STEPS = 5


class AdversarialParams(Params):
    attack: Literal["fgsm", "pgd"] = Field("pgd", description="fgsm: one step of size eps; pgd: "
                                           "steps of step_size, projected onto the eps ball")
    eps: float = Field(0.1, gt=0, le=1, description="the L-inf radius, in pixels on the 0-1 scale")
    steps: int | None = Field(None, ge=1, le=1000, description="pgd: gradient steps (default: 5, "
                              "as Ojha et al.)")
    step_size: float | None = Field(None, gt=0, le=1, description="pgd: each step's size "
                                    "(default: 2.5 * eps / steps, as Madry et al.)")

    @model_validator(mode="after")
    def _fgsm_takes_one_step(self) -> AdversarialParams:
        if self.attack == "fgsm" and (self.steps is not None or self.step_size is not None):
            raise ValueError("fgsm takes one step of size eps; steps and step_size are pgd's")
        return self


def attack(model: nn.Module, pixels: Tensor, labels: Tensor, params: AdversarialParams,
           mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    """Pixels in [0, 1] within ``eps`` (L-inf) of ``pixels`` that raise ``model``'s cross-entropy
    on ``labels``: one signed-gradient step (fgsm) or ``steps`` of them, each projected (pgd)."""
    steps = 1 if params.attack == "fgsm" else params.steps or PGD_STEPS
    size = params.eps if params.attack == "fgsm" else params.step_size or 2.5 * params.eps / steps
    adversarial = pixels.clone()
    for _ in range(steps):
        adversarial.requires_grad_(True)
        loss = F.cross_entropy(model(to_inputs(adversarial, mean, std)), labels)
        (grad,) = torch.autograd.grad(loss, adversarial)
        with torch.no_grad():
            adversarial = adversarial + size * grad.sign()
            adversarial = torch.min(torch.max(adversarial, pixels - params.eps), pixels + params.eps)
            adversarial = adversarial.clamp(0, 1)
    return adversarial.detach()


def adversarial(student: nn.Module, teacher: nn.Module, reference: nn.Module | None, split: Split,
                params: AdversarialParams, *, device: torch.device,
                generator: torch.Generator) -> dict[str, float | None]:
    """``teacher``: percent of the images the teacher classifies right that its attack makes it
    get wrong; ``student``: percent of those teacher-fooling images the student gets wrong."""
    attacked = fooled = transferred = 0
    for images, labels in batches(split, device):
        with torch.no_grad():
            right = teacher(images).argmax(1) == labels
        images, labels = images[right], labels[right]
        attacked += len(labels)
        if not len(labels):
            continue
        crafted = to_inputs(attack(teacher, to_pixels(images, split.mean, split.std), labels, params,
                                   split.mean, split.std), split.mean, split.std)
        with torch.no_grad():
            fools = teacher(crafted).argmax(1) != labels
            fooled += int(fools.sum())
            transferred += int((student(crafted[fools]).argmax(1) != labels[fools]).sum())
    return {"teacher": percent(fooled, attacked), "student": percent(transferred, fooled)}
