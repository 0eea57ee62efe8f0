"""The failure every check raises, and the small comparisons the checks share."""

from __future__ import annotations

import torch
from torch import Tensor


class ContractError(AssertionError):
    """A plugin thing that breaks kdbench's contract: ``check_method('kd') hidden-labels: ...``."""

    def __init__(self, checker: str, name: str, check: str, problem: str):
        super().__init__(f"{checker}({name!r}) {check}: {problem}")
        self.check = check


def same(a: Tensor, b: Tensor) -> bool:
    """Equal shapes and values up to float rounding (the checks compare repeatable computations)."""
    return a.shape == b.shape and bool(torch.allclose(a.double(), b.double(), rtol=1e-5, atol=1e-7))


def finite(value: Tensor) -> bool:
    return bool(torch.isfinite(value).all())
