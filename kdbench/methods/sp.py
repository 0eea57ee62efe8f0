"""SP, similarity-preserving KD (Tung & Mori, ICCV 2019), as RepDistiller and mdistiller run it.

Each default's source:

- Loss: per pair of features, the batch's Gram matrices G = F F^T of the flattened features, each
  row L2-normalized, and the squared Frobenius distance of the two divided by the squared batch
  size, summed over the pairs (RepDistiller ``distiller_zoo/SP.py``, mdistiller
  ``distillers/SP.py``; the paper's eq. 2 and 4).
- Taps: the last stage's map (RepDistiller ``feat[-2]``, mdistiller ``feats[-1]``).
- Weights: CE 1, SP 3000, no KD (RepDistiller ``scripts/run_cifar_distill.sh``: ``-a 0 -b 3000``;
  mdistiller ``SP.LOSS``: CE 1.0, FEAT 3000.0).
"""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from kdbench.methods.feature import FeatureDistiller, FeatureParams


class SPParams(FeatureParams):
    sp_weight: float = Field(3000.0, ge=0, description="weight of the similarity-matrix distance")


def similarity(feature: Tensor) -> Tensor:
    """The batch's (N, N) Gram matrix of the flattened features, each row L2-normalized."""
    flat = feature.flatten(1)
    return F.normalize(flat @ flat.T, dim=1)


def sp_loss(student: list[Tensor], teacher: list[Tensor]) -> Tensor:
    """Sum over paired features of ||G_t - G_s||_F^2 / N^2."""
    total = student[0].new_zeros(())
    for s, t in zip(student, teacher, strict=True):
        total = total + (similarity(t) - similarity(s)).pow(2).sum() / len(s) ** 2
    return total


class SP(FeatureDistiller[SPParams]):
    """``ce_weight * CE + sp_weight * sp_loss [+ kd_weight * KD]`` on the last stage's map."""

    name = "sp"
    default = "last-stage"

    def feature_terms(self, student: list[Tensor], teacher: list[Tensor]) -> dict[str, Tensor]:
        return {"sp": self.params.sp_weight * sp_loss(student, teacher)}
