"""The hooks: ``lskd`` always, ``lskd-dkd`` where kdbench-dkd is installed."""

from __future__ import annotations

import importlib.util

from kdbench.plugin import MethodInfo, Params, hookimpl

from kdbench_lskd.lskd import LSKD, LSKDParams

KDBENCH_API = "1"


def uses_ce(params: Params) -> bool:
    """Labels are needed only for the cross-entropy term; DKD's target falls back on the teacher."""
    return float(getattr(params, "ce_weight", 0.0)) > 0


def dkd_installed() -> bool:
    return importlib.util.find_spec("kdbench_dkd") is not None


@hookimpl
def kdbench_methods() -> list[MethodInfo]:
    methods = [MethodInfo("lskd", "logit standardization (Sun et al. 2024): CE + KD between z-scored "
                          "logits at a base temperature", LSKD, LSKDParams, needs_labels=uses_ce)]
    if dkd_installed():
        from kdbench_lskd.dkd import LSDKD, LSDKDParams

        methods.append(MethodInfo("lskd-dkd", "logit standardization (Sun et al. 2024) applied to DKD: "
                                  "TCKD and NCKD between z-scored logits", LSDKD, LSDKDParams,
                                  needs_labels=uses_ce))
    return methods
