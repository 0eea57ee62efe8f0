"""PKT, probabilistic knowledge transfer (Passalis & Tefas, ECCV 2018), as RepDistiller and
mdistiller run it.

Each default's source:

- Loss: the cosine similarities of the batch's features, mapped to [0, 1] by (c + 1) / 2 and
  each row divided by its sum, as conditional probabilities; then the mean over all N x N entries
  of p_t * log((p_t + eps) / (p_s + eps)), eps 1e-7; a feature whose norm is 0 gives 0 similarity
  (RepDistiller ``distiller_zoo/PKT.py``, from the authors' code; mdistiller ``distillers/PKT.py``).
- Taps: the penultimate feature (RepDistiller ``feat[-1]``, mdistiller ``pooled_feat``).
- Weights: CE 1, PKT 30000, no KD (RepDistiller ``scripts/run_cifar_distill.sh``: ``-a 0 -b
  30000``; mdistiller ``PKT.LOSS``: CE 1.0, FEAT 30000.0).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from kdbench.methods.feature import FeatureDistiller, FeatureParams

EPS = 1e-7  # RepDistiller and mdistiller cosine_similarity_loss


class PKTParams(FeatureParams):
    pkt_weight: float = Field(30000.0, ge=0, description="weight of the probability divergence")


def conditional_probabilities(x: Tensor) -> Tensor:
    """Row-normalized (cosine similarity + 1) / 2 of the rows of ``x`` (N, D): (N, N)."""
    unit = x / (x.norm(dim=1, keepdim=True) + EPS)
    unit = torch.where(unit.isnan(), torch.zeros_like(unit), unit)
    similarity = (unit @ unit.T + 1) / 2
    return similarity / similarity.sum(dim=1, keepdim=True)


def pkt_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """mean over i, j of p_t log((p_t + eps) / (p_s + eps)) of the flattened features."""
    p_s, p_t = conditional_probabilities(student.flatten(1)), conditional_probabilities(teacher.flatten(1))
    return (p_t * torch.log((p_t + EPS) / (p_s + EPS))).mean()


class PKT(FeatureDistiller[PKTParams]):
    """``ce_weight * CE + pkt_weight * pkt_loss [+ kd_weight * KD]`` on the penultimate features."""

    name = "pkt"
    default = "penultimate"

    def feature_terms(self, student: list[Tensor], teacher: list[Tensor]) -> dict[str, Tensor]:
        loss = sum((pkt_loss(s, t) for s, t in zip(student, teacher, strict=True)), student[0].new_zeros(()))
        return {"pkt": self.params.pkt_weight * loss}
