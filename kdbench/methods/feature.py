"""The shared frame of the feature methods of the CRD table (AT, SP, NST, VID, RKD, PKT, CC).

RepDistiller trains each as ``gamma * CE + alpha * KD + beta * feature loss`` (``train_student.py``
``-r -a -b``) with ``-r 1 -a 0`` in ``scripts/run_cifar_distill.sh``: CE weight 1, no KD. The
feature loss compares student and teacher features paired in order, read at taps that
``prepare`` picks: those the parameters name, else the model's stages. A model's stages are
RepDistiller's ``feat[1:-1]`` (mdistiller's ``feats[1:]``): each stage's output after the stem,
the taps its ``model_cfg.stage_taps`` declares, else every declared tap whose feature is a map
(N, C, H, W). Default stages of a student and a teacher with different numbers of them are paired
up to the shorter list, as the references' ``zip`` does. Where two paired maps differ in size,
the larger is average-pooled to the smaller (RepDistiller's ``adaptive_avg_pool2d`` rule in AT,
NST, VID, FT).
"""

from __future__ import annotations

from typing import ClassVar, Literal, TypeVar

import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor, nn

from kdbench.data import Batch
from kdbench.data.split import Split
from kdbench.errors import KdbenchError
from kdbench.methods.base import Distiller
from kdbench.methods.ce import ce_loss
from kdbench.methods.kd import kd_loss
from kdbench.methods.taps import PENULTIMATE, FeatureTaps, probe_all, tap_names
from kdbench.models.cfg import model_cfg
from kdbench.types import Params

Default = Literal["stages", "last-stage", "penultimate"]


class FeatureParams(Params):
    """The parameters every feature method shares; each method adds its own weight."""

    ce_weight: float = Field(1.0, ge=0, description="weight of cross-entropy on the labels "
                             "(RepDistiller's -r 1)")
    kd_weight: float = Field(0.0, ge=0, description="weight of an optional Hinton KD term "
                             "(RepDistiller's -a; 0 in its CIFAR script)")
    temperature: float = Field(4.0, gt=0, description="softmax temperature of the KD term")
    student_taps: list[str] | None = Field(None, min_length=1, description="student feature taps, "
                                           "paired in order with teacher_taps; default: the method's")
    teacher_taps: list[str] | None = Field(None, min_length=1, description="teacher feature taps; "
                                           "default: the method's")

    @model_validator(mode="after")
    def _paired(self) -> FeatureParams:
        s, t = self.student_taps, self.teacher_taps
        for field, names in (("student_taps", s), ("teacher_taps", t)):
            if names is not None and len(set(names)) < len(names):
                raise ValueError(f"{field} names a tap twice ({', '.join(names)})")
        if s is not None and t is not None and len(s) != len(t):
            raise ValueError(f"student_taps names {len(s)} taps and teacher_taps {len(t)}; they "
                             "are paired in order, so name as many of each")
        return self


P = TypeVar("P", bound=FeatureParams)


def match_sizes(student: Tensor, teacher: Tensor) -> tuple[Tensor, Tensor]:
    """Two maps (N, C, H, W) at the smaller of their sizes: the larger is average-pooled."""
    size = (min(student.shape[2], teacher.shape[2]), min(student.shape[3], teacher.shape[3]))
    pool = lambda x: x if tuple(x.shape[2:]) == size else F.adaptive_avg_pool2d(x, size)  # noqa: E731
    return pool(student), pool(teacher)


def stage_taps(model: nn.Module, images: Tensor) -> list[str]:
    """The taps of ``model``'s stages after its stem (RepDistiller's ``feat[1:-1]``): those its
    ``model_cfg.stage_taps`` declares, else every declared tap whose feature on ``images`` is a map."""
    cfg = model_cfg(model)
    if cfg is not None and cfg.stage_taps is not None:
        return list(cfg.stage_taps)
    names = [name for name in tap_names(model) if name != PENULTIMATE]
    features = probe_all(model, names, images) if names else {}
    return [name for name in names if features[name].ndim == 4]


def default_taps(model: nn.Module, images: Tensor, default: Default) -> list[str]:
    """The taps a method reads by default: all stages, the last stage, or the penultimate feature."""
    if default == "penultimate":
        return [PENULTIMATE]
    stages = stage_taps(model, images)
    if not stages:
        raise KdbenchError(f"{type(model).__name__} has no feature maps (N, C, H, W) among its taps "
                           f"({', '.join(tap_names(model))}); name the taps to read in student_taps "
                           "and teacher_taps")
    return stages[-1:] if default == "last-stage" else stages


class FeatureDistiller(Distiller[P]):
    """``ce_weight * CE [+ kd_weight * KD]`` plus the terms of ``feature_terms`` on the paired
    student and teacher features; subclasses set ``name``, ``default`` and ``needs_maps``."""

    name: ClassVar[str]
    default: ClassVar[Default]
    needs_maps: ClassVar[bool] = False
    teacher: nn.Module  # every feature method needs a teacher

    def __init__(self, student: nn.Module, teacher: nn.Module | None, params: P):
        if teacher is None:
            raise ValueError(f"{self.name} needs a teacher")
        super().__init__(student, teacher, params)
        self.student_taps: FeatureTaps | None = None
        self.teacher_taps: FeatureTaps | None = None

    def tap_pairs(self, images: Tensor) -> tuple[list[str], list[str]]:
        """The student and teacher taps, paired in order (defaults up to the shorter list)."""
        p = self.params
        student = p.student_taps or default_taps(self.student, images, self.default)
        teacher = p.teacher_taps or default_taps(self.teacher, images, self.default)
        if len(student) != len(teacher) and (p.student_taps or p.teacher_taps):
            raise KdbenchError(f"{self.name}: {len(student)} student taps ({', '.join(student)}) and "
                               f"{len(teacher)} teacher taps ({', '.join(teacher)}); name as many of each")
        n = min(len(student), len(teacher))
        return student[:n], teacher[:n]

    def prepare(self, data: Split) -> None:
        images = next(data.eval_batches(2)).images
        student, teacher = self.tap_pairs(images)
        features = [probe_all(model, names, images) for model, names in ((self.student, student),
                                                                          (self.teacher, teacher))]
        if self.needs_maps:
            self.check_maps(self.student, features[0])
            self.check_maps(self.teacher, features[1])
        self.build(list(features[0].values()), list(features[1].values()))
        self.student_taps = FeatureTaps(self.student, student)
        self.teacher_taps = FeatureTaps(self.teacher, teacher)

    def check_maps(self, model: nn.Module, features: dict[str, Tensor]) -> None:
        """Raise a one-line error when a tapped feature of ``model`` is not a map (N, C, H, W)."""
        for name, feature in features.items():
            if feature.ndim != 4:
                raise KdbenchError(f"{self.name} compares feature maps (N, C, H, W), but tap {name!r} "
                                   f"of {type(model).__name__} gives shape {tuple(feature.shape)}")

    def build(self, student: list[Tensor], teacher: list[Tensor]) -> None:
        """Make the method's own modules from example features (on their device); default none."""

    def feature_terms(self, student: list[Tensor], teacher: list[Tensor]) -> dict[str, Tensor]:
        """The method's weighted loss terms of the paired features."""
        raise NotImplementedError

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        if self.student_taps is None or self.teacher_taps is None:
            raise RuntimeError(f"{self.name}: call prepare(data) before training (it picks the taps)")
        p = self.params
        logits, student = self.student_taps.read(self.student, batch.images)
        teacher_logits, teacher = self.teacher_taps.read(self.teacher_logits, batch)
        terms = {"ce": p.ce_weight * ce_loss(logits, batch.labels, batch.label_mask),
                 **self.feature_terms(list(student.values()), list(teacher.values()))}
        if p.kd_weight > 0:
            terms["kd"] = p.kd_weight * kd_loss(logits, teacher_logits, p.temperature)
        return terms
