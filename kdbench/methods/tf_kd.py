"""Teacher-free KD, Tf-KD_reg (Yuan et al., "Revisiting Knowledge Distillation via Label Smoothing
Regularization", CVPR 2020): KD from a hand-designed "virtual teacher" instead of a trained one.

As the authors' code computes it (``loss_kd_regularization`` in yuanli2333/Teacher-free-Knowledge-
Distillation, ``my_loss_function.py``): u puts ``correct_prob`` (0.99) on the label and the rest
evenly on the other classes; the virtual teacher is softmax(u / T); the term is KL(softmax(u / T) ||
softmax(z)) of the student at temperature 1, averaged over examples *and* classes (PyTorch's
``KLDivLoss()`` default reduction), weighted by ``reg_alpha * multiplier``; cross-entropy by
``1 - reg_alpha``. Defaults: their CIFAR-100 MobileNetV2 config (``base_mobilenetv2/params.json``:
``reg_alpha`` 0.95, ``reg_temperature`` 40, ``multiplier`` 1). Their other CIFAR-100 configs, as
(ce_weight, reg_weight, temperature): ShuffleNetV2 (0.05, 0.95, 10), ResNet-18 (0.9, 10, 20),
GoogLeNet (0.9, 5, 40).

Tf-KD_self (a pre-trained student teaching itself) needs no method of its own: it is ``kd`` with a
track teacher of the student's architecture (see ``SELF_TRAINING`` below).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from kdbench.data import Batch
from kdbench.methods.base import Distiller
from kdbench.methods.ce import ce_loss
from kdbench.types import Params

# Tf-KD_self as kd in a track, from the authors' CIFAR-100 MobileNetV2 config
# (``kd_experiments/mobilenet_distill/mobilenet_self_teacher/params.json``: alpha 0.95, temperature
# 20, multiplier 1): their KL is averaged over examples and classes, kd_loss over examples only, so
# kd_weight = alpha * multiplier / K with K = 100 classes.
SELF_TRAINING = {"ce_weight": 0.05, "kd_weight": 0.0095, "temperature": 20.0}


class TfKDParams(Params):
    ce_weight: float = Field(0.05, ge=0, description="weight of cross-entropy on the labels (1 - reg_alpha)")
    reg_weight: float = Field(0.95, ge=0, description="weight of the virtual-teacher term "
                              "(reg_alpha * multiplier in the reference)")
    correct_prob: float = Field(0.99, gt=0, lt=1, description="probability of the label in the virtual "
                                "teacher before its softmax (the paper's a)")
    temperature: float = Field(40.0, gt=0, description="temperature of the virtual teacher's softmax")


def virtual_teacher(labels: Tensor, num_classes: int, correct_prob: float, temperature: float) -> Tensor:
    """softmax(u / T) with u = ``correct_prob`` on the label, the rest even over the other classes."""
    u = torch.full((len(labels), num_classes), (1 - correct_prob) / (num_classes - 1), device=labels.device)
    return F.softmax(u.scatter_(1, labels[:, None], correct_prob) / temperature, dim=1)


def tf_kd_reg_loss(logits: Tensor, labels: Tensor, label_mask: Tensor, correct_prob: float,
                   temperature: float) -> Tensor:
    """KL(virtual teacher || softmax(logits)) averaged over the known examples and the classes."""
    if not bool(label_mask.any()):
        return logits.sum() * 0.0
    logits, labels = logits[label_mask], labels[label_mask]
    teacher = virtual_teacher(labels, logits.shape[1], correct_prob, temperature).to(logits.dtype)
    return F.kl_div(F.log_softmax(logits, dim=1), teacher, reduction="sum") / logits.numel()


class TfKD(Distiller[TfKDParams]):
    """``ce_weight * CE + reg_weight * tf_kd_reg_loss``; never uses a teacher."""

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        p = self.params
        logits = self.student(batch.images)
        return {"ce": p.ce_weight * ce_loss(logits, batch.labels, batch.label_mask),
                "reg": p.reg_weight * tf_kd_reg_loss(logits, batch.labels, batch.label_mask,
                                                     p.correct_prob, p.temperature)}
