"""AT, attention transfer (Zagoruyko & Komodakis, ICLR 2017), as RepDistiller and mdistiller run it.

Each default's source:

- Loss: per pair of maps, the mean squared difference of the attention maps, the L2-normalized
  channel mean of |f|^p flattened over space, summed over the pairs (RepDistiller
  ``distiller_zoo/AT.py``, mdistiller ``distillers/AT.py``); ``p`` 2 (both).
- Taps: every stage after the stem (RepDistiller ``feat[1:-1]``, mdistiller ``feats[1:]``); the
  larger map of a pair is average-pooled to the smaller (RepDistiller's ``at_loss``).
- Weights: CE 1, AT 1000, no KD (RepDistiller ``scripts/run_cifar_distill.sh``: ``-a 0 -b 1000``;
  mdistiller ``AT.LOSS``: CE 1.0, FEAT 1000.0).
"""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from kdbench.methods.feature import FeatureDistiller, FeatureParams, match_sizes


class ATParams(FeatureParams):
    at_weight: float = Field(1000.0, ge=0, description="weight of the attention-map distance")
    p: float = Field(2.0, gt=0, description="power of the activations in the attention map")


def attention_map(feature: Tensor, p: float) -> Tensor:
    """The channel mean of ``feature ** p`` (N, C, H, W), flattened and L2-normalized: (N, H * W)."""
    return F.normalize(feature.pow(p).mean(dim=1).flatten(1), dim=1)


def at_loss(student: list[Tensor], teacher: list[Tensor], p: float = 2.0) -> Tensor:
    """Sum over paired maps of the mean squared difference of their attention maps."""
    total = student[0].new_zeros(())
    for s, t in zip(student, teacher, strict=True):
        s, t = match_sizes(s, t)
        total = total + (attention_map(s, p) - attention_map(t, p)).pow(2).mean()
    return total


class AT(FeatureDistiller[ATParams]):
    """``ce_weight * CE + at_weight * at_loss [+ kd_weight * KD]`` over the stages' maps."""

    name = "at"
    default = "stages"
    needs_maps = True

    def feature_terms(self, student: list[Tensor], teacher: list[Tensor]) -> dict[str, Tensor]:
        return {"at": self.params.at_weight * at_loss(student, teacher, self.params.p)}
