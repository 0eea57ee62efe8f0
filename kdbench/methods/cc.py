"""CC, correlation congruence (Peng et al., ICCV 2019), as RepDistiller runs it (mdistiller has none).

Each default's source:

- Embedding: a linear layer from each network's penultimate feature to ``feat_dim`` 128, both
  trained with the student (RepDistiller ``LinearEmbed`` with ``--feat_dim 128``).
- Loss: with d = |e_s - e_t| the embeddings' absolute difference per example, the batch mean of
  sum_k d_ik d_(i+1)k over consecutive examples (RepDistiller ``distiller_zoo/CC.py``, the form the
  paper's authors shared; not the paper's Gaussian-kernel correlation matrices).
- Weights: CE 1, CC 0.02, no KD (RepDistiller ``scripts/run_cifar_distill.sh``: ``-a 0 -b 0.02``).
"""

from __future__ import annotations

from pydantic import Field
from torch import Tensor, nn

from kdbench.methods.feature import FeatureDistiller, FeatureParams


class CCParams(FeatureParams):
    cc_weight: float = Field(0.02, ge=0, description="weight of the correlation term")
    feat_dim: int = Field(128, gt=0, le=2**16, description="embedding size (RepDistiller's 128)")


def cc_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """mean over i of sum_k |s - t|_ik |s - t|_(i+1)k of embeddings (N, D); 0 for a batch of one."""
    if len(student) < 2:
        return (student - teacher).sum() * 0.0
    delta = (student - teacher).abs()
    return (delta[:-1] * delta[1:]).sum(dim=1).mean()


def embedding(feature: Tensor, dim: int) -> nn.Sequential:
    """A linear map of the flattened ``feature`` to ``dim``, on its device."""
    return nn.Sequential(nn.Flatten(), nn.Linear(feature.flatten(1).shape[1], dim)).to(feature.device)


class CC(FeatureDistiller[CCParams]):
    """``ce_weight * CE + cc_weight * cc_loss(embed_s(f_s), embed_t(f_t)) [+ kd_weight * KD]`` on the
    penultimate features; the two embeddings are the method's own modules."""

    name = "cc"
    default = "penultimate"

    def build(self, student: list[Tensor], teacher: list[Tensor]) -> None:
        dim = self.params.feat_dim
        self.embed_student = nn.ModuleList([embedding(f, dim) for f in student])
        self.embed_teacher = nn.ModuleList([embedding(f, dim) for f in teacher])

    def feature_terms(self, student: list[Tensor], teacher: list[Tensor]) -> dict[str, Tensor]:
        loss = sum((cc_loss(e_s(s), e_t(t)) for s, t, e_s, e_t
                    in zip(student, teacher, self.embed_student, self.embed_teacher, strict=True)),
                   student[0].new_zeros(()))
        return {"cc": self.params.cc_weight * loss}
