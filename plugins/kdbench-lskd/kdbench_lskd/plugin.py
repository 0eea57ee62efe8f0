"""The hooks: ``lskd`` always, ``lskd-dkd`` where kdbench-dkd is installed."""

from __future__ import annotations

import importlib.util

from kdbench.plugin import MethodInfo, hookimpl

from kdbench_lskd import lskd

KDBENCH_API = "1"


def dkd_installed() -> bool:
    return importlib.util.find_spec("kdbench_dkd") is not None


@hookimpl
def kdbench_methods() -> list[MethodInfo]:
    methods = [MethodInfo("lskd", "logit standardization (Sun et al. 2024): CE + KD between z-scored "
                          "logits at a base temperature", lskd.LSKD, lskd.LSKDParams,
                          needs_labels=lskd.uses_ce)]
    if dkd_installed():
        from kdbench_lskd import dkd

        methods.append(MethodInfo("lskd-dkd", "logit standardization (Sun et al. 2024) applied to DKD: "
                                  "TCKD and NCKD between z-scored logits", dkd.LSDKD, dkd.LSDKDParams,
                                  needs_labels=dkd.uses_ce))
    return methods
