"""Every registered model family keeps kdbench.testing's contract, built by its example name."""

from __future__ import annotations

import pytest

from kdbench.plugins import get_plugin_manager
from kdbench.testing import check_model

FAST = {"lenet5", "mlp"}  # the others are deep networks: 10 to 40 s each on 2 busy cores


def examples() -> list[object]:
    names = [entry.info.example or entry.info.name for entry in get_plugin_manager().models]
    return [pytest.param(name, marks=[] if name in FAST else [pytest.mark.slow]) for name in names]


@pytest.mark.parametrize("name", examples())
def test_model_family_keeps_the_contract(name: str) -> None:
    check_model(name)
