"""Distillation methods: one module each (a pure loss function plus a thin ``Distiller``)."""

from pydantic import BaseModel

from kdbench.methods.base import Distiller
from kdbench.types import MethodInfo


def uses_ce(params: BaseModel) -> bool:
    """Whether a method's cross-entropy term is on (``ce_weight`` above 0): then it needs labels."""
    return getattr(params, "ce_weight", 0) > 0


def builtin_methods() -> list[MethodInfo]:
    """The methods kdbench registers through its own ``builtin`` plugin."""
    from kdbench.methods import ce, crd, eskd, hint, kd

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
                   needs_labels=uses_ce, version="2", supports_ddp=False),
    ]


__all__ = ["Distiller", "builtin_methods"]
