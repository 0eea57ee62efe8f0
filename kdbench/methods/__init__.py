"""Distillation methods: one module each (a pure loss function plus a thin ``Distiller``).

Built in: ce, kd, eskd, hint, crd, and the feature methods of the CRD table at, sp, rkd, pkt, vid,
nst, cc and ft (``feature.py`` is their shared frame). Of RepDistiller's methods two are left out:
AB (Heo et al. 2019) reads each stage's pre-activation map, before its last ReLU, which the model
families' taps do not offer (a ResNet stage's output is after the ReLU), and FSP (Yim et al. 2017)
needs the stem's output as well as the stages' and equal channel counts in student and teacher, so
it fits only same-family pairs. Both train the student's feature layers in a preparation stage
and then train on CE alone (RepDistiller's ``loss_kd = 0`` for them).
"""

from pydantic import BaseModel

from kdbench.methods.base import Distiller
from kdbench.types import MethodInfo


def uses_ce(params: BaseModel) -> bool:
    """Whether a method's cross-entropy term is on (``ce_weight`` above 0): then it needs labels."""
    return getattr(params, "ce_weight", 0) > 0


def builtin_methods() -> list[MethodInfo]:
    """The methods kdbench registers through its own ``builtin`` plugin."""
    from kdbench.methods import (
        at,
        cc,
        ce,
        crd,
        eskd,
        ft,
        hint,
        kd,
        label_smoothing,
        nst,
        pkt,
        rkd,
        sp,
        tf_kd,
        vid,
    )

    return [
        MethodInfo("ce", "student trained alone on labels (the baseline)", ce.CE, ce.CEParams,
                   needs_teacher=False, needs_labels=True),
        MethodInfo("kd", "Hinton KD: ce_weight * CE + kd_weight * T^2 KL at temperature T",
                   kd.KD, kd.KDParams, needs_labels=uses_ce),
        MethodInfo("eskd", "early-stopped KD (Cho & Hariharan 2019): KD until stop_epoch, then CE",
                   eskd.ESKD, eskd.ESKDParams, needs_labels=True),
        MethodInfo("hint", "FitNets (Romero et al. 2015): CE + MSE of a regressed student "
                   "feature to a teacher feature", hint.Hint, hint.HintParams,
                   needs_labels=uses_ce, version="2"),
        MethodInfo("crd", "contrastive representation distillation (Tian et al. 2020): CE + "
                   "NCE against memory banks", crd.CRD, crd.CRDParams,
                   needs_labels=uses_ce, version="2"),
        MethodInfo("at", "attention transfer (Zagoruyko & Komodakis 2017): CE + distance of the "
                   "stages' spatial attention maps", at.AT, at.ATParams, needs_labels=uses_ce),
        MethodInfo("sp", "similarity-preserving KD (Tung & Mori 2019): CE + distance of the batch's "
                   "similarity matrices", sp.SP, sp.SPParams, needs_labels=uses_ce),
        MethodInfo("rkd", "relational KD (Park et al. 2019): CE + distance and angle relations of "
                   "the penultimate features", rkd.RKD, rkd.RKDParams, needs_labels=uses_ce),
        MethodInfo("pkt", "probabilistic knowledge transfer (Passalis & Tefas 2018): CE + KL of the "
                   "features' cosine-similarity distributions", pkt.PKT, pkt.PKTParams,
                   needs_labels=uses_ce),
        MethodInfo("vid", "variational information distillation (Ahn et al. 2019): CE + Gaussian "
                   "NLL of the teacher's maps given the student's", vid.VID, vid.VIDParams,
                   needs_labels=uses_ce),
        MethodInfo("nst", "neuron selectivity transfer (Huang & Wang 2017): CE + polynomial-kernel "
                   "MMD of the stages' channels", nst.NST, nst.NSTParams, needs_labels=uses_ce),
        MethodInfo("cc", "correlation congruence (Peng et al. 2019): CE + correlation of the "
                   "embedded penultimate features' differences", cc.CC, cc.CCParams,
                   needs_labels=uses_ce),
        MethodInfo("ft", "factor transfer (Kim et al. 2018): CE + distance of the student's translated "
                   "and the teacher's paraphrased last map, the paraphraser trained first", ft.FT,
                   ft.FTParams, needs_labels=uses_ce),
        MethodInfo("label-smoothing", "label smoothing (Szegedy et al. 2016): CE against smoothed labels, "
                   "no teacher (the regularisation control)", label_smoothing.LabelSmoothing,
                   label_smoothing.LabelSmoothingParams, needs_teacher=False, needs_labels=True),
        MethodInfo("tf-kd", "teacher-free KD, Tf-KD_reg (Yuan et al. 2020): CE + KL to a hand-designed "
                   "virtual teacher, no teacher", tf_kd.TfKD, tf_kd.TfKDParams, needs_teacher=False,
                   needs_labels=True),
    ]


__all__ = ["Distiller", "builtin_methods"]
