"""CRD (Contrastive Representation Distillation, Tian et al. 2020), as the authors' code does it.

Features are embedded (linear, L2-normalized) to ``feat_dim``; a momentum memory per network keeps
each training example's embedding. A student embedding is scored against teacher memory rows: its
own example's (the positive) and ``nce_k`` of other classes; a teacher embedding likewise against
the student memory. NCE with noise K/N; the normalizer Z is estimated once, on the first batch.
The memories start uniform in [-stdv, stdv] with stdv = 1 / sqrt(feat_dim / 3), drawn from torch's
CPU generator (so seeded, and equal on every device), as RepDistiller's ``ContrastMemory`` does.
Labels are used only where known: an example whose label is hidden is its own class, so its
negatives are any other examples, and it may be a negative of any labelled example."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from kdbench.data import Batch
from kdbench.data.split import Split
from kdbench.methods.base import Distiller
from kdbench.methods.ce import ce_loss
from kdbench.methods.kd import kd_loss
from kdbench.methods.taps import PENULTIMATE, FeatureTap, probe
from kdbench.types import Params


class CRDParams(Params):
    ce_weight: float = Field(1.0, ge=0, description="weight of cross-entropy on the labels")
    crd_weight: float = Field(0.8, ge=0, description="weight of the contrastive (NCE) term")
    kd_weight: float = Field(0.0, ge=0, description="weight of an optional Hinton KD term")
    temperature: float = Field(4.0, gt=0, description="softmax temperature of the KD term")
    feat_dim: int = Field(128, gt=0, le=2**16, description="embedding size (at most 65,536; CRD uses 128)")
    nce_k: int = Field(16384, gt=0, le=2**20, description="negatives per anchor (at most N - 1, and at "
                       "most 1,048,576; CRD uses 16,384)")
    nce_t: float = Field(0.07, gt=0, description="temperature of the embedding similarities")
    nce_m: float = Field(0.5, ge=0, lt=1, description="momentum of the memory banks")
    student_tap: str = Field(PENULTIMATE, min_length=1, description="student feature tap")
    teacher_tap: str = Field(PENULTIMATE, min_length=1, description="teacher feature tap")


def nce_loss(scores: Tensor, nce_t: float, n_data: int, log_z: Tensor | float) -> Tensor:
    """NCE loss of similarity ``scores`` (B, 1 + K), the positive first: with P = exp(s / nce_t) / Z
    and noise K/N, the anchors' mean of -log(P_0 / (P_0 + K/N)) - sum_j log((K/N) / (P_j + K/N))."""
    log_p = scores / nce_t - log_z
    noise = log_p.new_tensor(math.log((scores.shape[1] - 1) / n_data))
    log_pos = log_p[:, 0] - torch.logaddexp(log_p[:, 0], noise)
    log_neg = noise - torch.logaddexp(log_p[:, 1:], noise)
    return -(log_pos + log_neg.sum(dim=1)).mean()


def initial_memory(rows: int, dim: int) -> Tensor:
    """(rows, dim) uniform in [-stdv, stdv], stdv = 1 / sqrt(dim / 3): RepDistiller's memory init."""
    stdv = 1.0 / math.sqrt(dim / 3)
    return torch.rand(rows, dim) * (2 * stdv) - stdv


def crd_loss(student: Tensor, teacher: Tensor, student_memory: Tensor, teacher_memory: Tensor,
             index: Tensor, nce_t: float, log_z: Tensor) -> Tensor:
    """Both directions: student embeddings (B, d) against the teacher memory (N, d) at rows
    ``index`` (B, 1 + K), and teacher embeddings against the student memory; ``log_z`` is (2,)."""
    n_data = len(student_memory)
    return (nce_loss((student @ teacher_memory.T).gather(1, index), nce_t, n_data, log_z[0])
            + nce_loss((teacher @ student_memory.T).gather(1, index), nce_t, n_data, log_z[1]))


def classes_for_negatives(labels: Tensor, label_mask: Tensor, num_classes: int) -> Tensor:
    """Each example's class for drawing negatives: its label where known, else a class of its own
    (``num_classes`` + its position), so hidden labels' values never matter."""
    own = num_classes + torch.arange(len(labels), device=labels.device)
    return torch.where(label_mask, labels, own)


class CRD(Distiller[CRDParams]):
    """``ce_weight * CE + crd_weight * NCE [+ kd_weight * KD]``; the memories are buffers."""

    teacher: nn.Module  # crd's MethodInfo needs a teacher
    student_memory: Tensor  # buffers that ``prepare`` registers
    teacher_memory: Tensor
    log_z: Tensor
    by_class: Tensor
    class_count: Tensor
    class_of: Tensor
    class_start: Tensor

    def __init__(self, student: nn.Module, teacher: nn.Module | None, params: CRDParams):
        if teacher is None:
            raise ValueError("crd needs a teacher")
        super().__init__(student, teacher, params)
        self.student_tap = FeatureTap(student, params.student_tap)
        self.teacher_tap = FeatureTap(teacher, params.teacher_tap)
        self.embed_student: nn.Module | None = None
        self.embed_teacher: nn.Module | None = None

    def prepare(self, data: Split) -> None:
        images, dim = next(data.eval_batches(2)).images, self.params.feat_dim
        device = images.device
        labels = classes_for_negatives(data.labels.to(device), data.label_mask.to(device), data.num_classes)
        counts = torch.bincount(labels, minlength=data.num_classes)
        if (counts > 0).sum() < 2:
            raise ValueError("crd needs two classes or more: negatives come from other classes")
        for name, model, tap in (("student", self.student, self.student_tap),
                                 ("teacher", self.teacher, self.teacher_tap)):
            width = probe(model, tap, images).flatten(1).shape[1]
            setattr(self, f"embed_{name}", nn.Sequential(nn.Flatten(), nn.Linear(width, dim)).to(device))
            self.register_buffer(f"{name}_memory", initial_memory(len(data), dim).to(device))
        self.register_buffer("log_z", torch.full((2,), math.nan, device=device))
        for name, value in (("by_class", torch.argsort(labels, stable=True)), ("class_count", counts),
                            ("class_of", labels),
                            ("class_start", torch.cumsum(counts, 0) - counts)):  # for negatives
            self.register_buffer(name, value, persistent=False)
        self._z_known = False

    def negatives(self, labels: Tensor, k: int) -> Tensor:
        """``k`` random examples (B, k) of a class other than each label, with replacement."""
        start, count, n = self.class_start[labels, None], self.class_count[labels, None], len(self.by_class)
        draw = torch.minimum((torch.rand(len(labels), k, device=labels.device) * (n - count)).long(),
                             n - count - 1)  # rand * (n - count) may round up to n - count
        return self.by_class[torch.where(draw < start, draw, draw + count)]

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        if self.embed_student is None or self.embed_teacher is None:
            raise RuntimeError("crd: call prepare(data) before training (it builds the memories)")
        p, n = self.params, len(self.by_class)
        logits, student_feature = self.student_tap.read(self.student, batch.images)
        teacher_logits, teacher_feature = self.teacher_tap.read(self.teacher_logits, batch)
        student = F.normalize(self.embed_student(student_feature), dim=1)
        teacher = F.normalize(self.embed_teacher(teacher_feature), dim=1)
        negatives = self.negatives(self.class_of[batch.index], min(p.nce_k, n - 1))
        index = torch.cat([batch.index[:, None], negatives], 1)
        if not self._z_known:  # Z = N mean exp(s / nce_t), once: on the first batch, unless resumed
            with torch.no_grad():
                pairs = ((student, self.teacher_memory), (teacher, self.student_memory))
                scores = [(emb @ memory.T).gather(1, index).flatten() / p.nce_t for emb, memory in pairs]
                estimate = torch.stack([torch.logsumexp(s, 0) + math.log(n / len(s)) for s in scores])
                self.log_z.copy_(torch.where(torch.isnan(self.log_z), estimate, self.log_z))
            self._z_known = True  # a Python flag, not a tensor test: no graph break in the step
        terms = {"ce": p.ce_weight * ce_loss(logits, batch.labels, batch.label_mask),
                 "crd": p.crd_weight * crd_loss(student, teacher, self.student_memory,
                                                 self.teacher_memory, index, p.nce_t, self.log_z)}
        if p.kd_weight > 0:
            terms["kd"] = p.kd_weight * kd_loss(logits, teacher_logits, p.temperature)
        with torch.no_grad():  # out of place: backward still needs the memories scored above
            for name, emb in (("student_memory", student), ("teacher_memory", teacher)):
                memory = getattr(self, name)
                rows = F.normalize(p.nce_m * memory[batch.index] + (1 - p.nce_m) * emb, dim=1)
                setattr(self, name, memory.index_copy(0, batch.index, rows))
        return terms
