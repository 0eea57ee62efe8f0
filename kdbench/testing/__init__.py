"""Contract checks for plugin authors, in the spirit of scikit-learn's ``check_estimator``.

``check_method(name)``, ``check_model(name)``, ``check_dataset(name, root=...)`` and
``check_probe(name)`` run, on tiny inputs, the invariants every built-in passes, and raise
``ContractError`` (an ``AssertionError``) with one line naming the thing and the check that
failed; ``smoke_run(name, folder)`` runs a method through the whole pipeline on quickstart's smoke
budget. ``FixedLogits``, ``logits_batch`` and ``finite_difference`` build a golden test of a
method's terms and gradients against its reference formula. A plugin's whole test can be::

    from kdbench.testing import check_method

    def test_logit_mse_keeps_the_contract():
        check_method("logit-mse")

This module and ``kdbench.plugin`` are kdbench's public API.
"""

from kdbench.testing.contract import ContractError
from kdbench.testing.datasets import check_dataset
from kdbench.testing.golden import FixedLogits, finite_difference, logits_batch
from kdbench.testing.methods import check_method
from kdbench.testing.models import check_model
from kdbench.testing.probes import check_probe
from kdbench.testing.smoke import smoke_run

__all__ = ["ContractError", "FixedLogits", "check_dataset", "check_method", "check_model", "check_probe",
           "finite_difference", "logits_batch", "smoke_run"]
