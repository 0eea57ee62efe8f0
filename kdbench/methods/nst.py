"""NST, neuron selectivity transfer (Huang & Wang, 2017), as RepDistiller and mdistiller run it.

Each default's source:

- Loss: per pair of maps, each channel's activations over space L2-normalized, the squared MMD
  between the student's and the teacher's channels under the polynomial kernel k(a, b) = (a.b)^2:
  mean k(t, t) + mean k(s, s) - 2 mean k(s, t), summed over the pairs (RepDistiller
  ``distiller_zoo/NST.py`` with ``full_loss``, mdistiller ``distillers/NST.py``).
- Taps: every stage after the stem (RepDistiller ``feat[1:-1]``, mdistiller ``feats[1:]``); the
  larger map of a pair is average-pooled to the smaller.
- Weights: CE 1, NST 50, no KD (RepDistiller ``scripts/run_cifar_distill.sh``: ``-a 0 -b 50``;
  mdistiller ``NST.LOSS``: CE 1.0, FEAT 50.0).
"""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from kdbench.methods.feature import FeatureDistiller, FeatureParams, match_sizes


class NSTParams(FeatureParams):
    nst_weight: float = Field(50.0, ge=0, description="weight of the squared MMD")


def poly_kernel(a: Tensor, b: Tensor) -> Tensor:
    """k(a_i, b_j) = (a_i . b_j)^2 for every pair of rows of ``a`` (N, I, D) and ``b`` (N, J, D)."""
    return (a @ b.transpose(1, 2)).pow(2)


def nst_loss(student: list[Tensor], teacher: list[Tensor]) -> Tensor:
    """Sum over paired maps of the squared polynomial-kernel MMD of their normalized channels."""
    total = student[0].new_zeros(())
    for s, t in zip(student, teacher, strict=True):
        s, t = match_sizes(s, t)
        s, t = F.normalize(s.flatten(2), dim=2), F.normalize(t.flatten(2), dim=2)
        total = total + (poly_kernel(t, t).mean().detach() + poly_kernel(s, s).mean()
                         - 2 * poly_kernel(s, t).mean())
    return total


class NST(FeatureDistiller[NSTParams]):
    """``ce_weight * CE + nst_weight * nst_loss [+ kd_weight * KD]`` over the stages' maps."""

    name = "nst"
    default = "stages"
    needs_maps = True

    def feature_terms(self, student: list[Tensor], teacher: list[Tensor]) -> dict[str, Tensor]:
        return {"nst": self.params.nst_weight * nst_loss(student, teacher)}
