"""``check_probe``: every built-in probe keeps the contract, and a probe that breaks it fails in
one line naming the check."""

from __future__ import annotations

import pytest
import torch

from kdbench import hookimpl
from kdbench.plugins import PluginManager
from kdbench.testing import ContractError, check_probe
from kdbench.types import ProbeInfo


@pytest.mark.parametrize("name, params", [
    ("invariance", {"transform": "rotation", "degrees": 90}),
    ("invariance", {"transform": "colour"}),
    ("adversarial-transfer", {"attack": "pgd", "eps": 0.05, "steps": 2}),
    ("error-agreement", None),
    ("gradcam", None),
])
def test_builtin_probes_keep_the_contract(name, params) -> None:
    check_probe(name, params)


def broken(values):
    """A plugin whose probe ``bad`` returns ``values()``."""
    class Plugin:
        @hookimpl
        def kdbench_probes(self):
            return [ProbeInfo("bad", "a broken probe", lambda *args, **kwargs: values(),
                              {"student": "%"})]

    pm = PluginManager(strict=True)
    pm.add_plugin(Plugin(), "bad", "kdbench-bad 0.1")
    return pm


@pytest.mark.parametrize("values, check", [
    (lambda: {"student": 150.0}, "values: student is 150.0, not a percentage"),
    (lambda: {"teacher": 1.0}, r"values: returned \['teacher'\]"),
    (lambda: {"student": float("nan")}, "values: student is nan"),
    (lambda: {"student": float(torch.rand(()))}, "determinism"),
])
def test_a_probe_that_breaks_the_contract_fails_naming_the_check(values, check) -> None:
    with pytest.raises(ContractError, match=rf"check_probe\('bad'\) {check}"):
        check_probe("bad", pm=broken(values))
