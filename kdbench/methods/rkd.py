"""RKD, relational KD (Park et al., CVPR 2019), as RepDistiller and mdistiller run it.

Each default's source:

- Loss: ``distance_weight`` times the smooth-L1 distance of the batch's pairwise Euclidean
  distances, each network's divided by its mean over distinct pairs, plus ``angle_weight`` times
  the smooth-L1 distance of the cosines of the angles of every triplet; the teacher's side carries
  no gradient (RepDistiller ``distiller_zoo/RKD.py``, mdistiller ``distillers/RKD.py``). Distances
  are sqrt(max(d^2, 1e-12)), 0 on the diagonal (both: ``PDIST.EPSILON`` 1e-12, not squared).
- ``distance_weight`` 25, ``angle_weight`` 50 (both, and the paper's CIFAR/metric-learning setting).
- Taps: the penultimate feature, the pooled vector that feeds the classifier (RepDistiller
  ``feat[-1]``, mdistiller ``pooled_feat``).
- Weights: CE 1, RKD 1, no KD (RepDistiller ``scripts/run_cifar_distill.sh``: ``-a 0 -b 1``;
  mdistiller ``RKD.LOSS``: CE 1.0, FEAT 1.0).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from kdbench.methods.feature import FeatureDistiller, FeatureParams

EPS = 1e-12  # RepDistiller RKDLoss.pdist, mdistiller RKD.PDIST.EPSILON


class RKDParams(FeatureParams):
    rkd_weight: float = Field(1.0, ge=0, description="weight of the relational loss")
    distance_weight: float = Field(25.0, ge=0, description="weight of the distance term inside it")
    angle_weight: float = Field(50.0, ge=0, description="weight of the angle term inside it")


def pairwise_distances(x: Tensor) -> Tensor:
    """(N, N) Euclidean distances of the rows of ``x`` (N, D), squared ones clamped at 1e-12, and a
    zero diagonal."""
    squared = x.pow(2).sum(1)
    distances = (squared[:, None] + squared[None, :] - 2 * x @ x.T).clamp(min=EPS).sqrt()
    return distances * (1 - torch.eye(len(x), dtype=x.dtype, device=x.device))


def distance_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """Smooth L1 between the pairwise distances of the two, each divided by its positive mean."""
    s, t = pairwise_distances(student), pairwise_distances(teacher.detach())
    return F.smooth_l1_loss(s / s[s > 0].mean(), t / t[t > 0].mean())


def angles(x: Tensor) -> Tensor:
    """The cosine of the angle at x_i between x_j and x_k for every triplet (i, j, k), flattened."""
    directions = F.normalize(x[None, :, :] - x[:, None, :], dim=2)
    return (directions @ directions.transpose(1, 2)).flatten()


def angle_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """Smooth L1 between the triplet angles' cosines of the two."""
    return F.smooth_l1_loss(angles(student), angles(teacher.detach()))


def rkd_loss(student: Tensor, teacher: Tensor, distance_weight: float = 25.0,
             angle_weight: float = 50.0) -> Tensor:
    """``distance_weight * distance_loss + angle_weight * angle_loss`` of flattened features; 0 for
    a batch of one, which has no pairs."""
    if len(student) < 2:
        return student.sum() * 0.0
    s, t = student.flatten(1), teacher.flatten(1)
    return distance_weight * distance_loss(s, t) + angle_weight * angle_loss(s, t)


class RKD(FeatureDistiller[RKDParams]):
    """``ce_weight * CE + rkd_weight * rkd_loss [+ kd_weight * KD]`` on the penultimate features."""

    name = "rkd"
    default = "penultimate"

    def feature_terms(self, student: list[Tensor], teacher: list[Tensor]) -> dict[str, Tensor]:
        p = self.params
        loss = sum((rkd_loss(s, t, p.distance_weight, p.angle_weight)
                    for s, t in zip(student, teacher, strict=True)), student[0].new_zeros(()))
        return {"rkd": p.rkd_weight * loss}
