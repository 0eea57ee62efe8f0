"""Learning-rate schedules as pure functions of the epoch."""

from __future__ import annotations

import pytest

from kdbench.engine.optim import lr_at
from kdbench.specs import Recipe


def test_multistep() -> None:
    recipe = Recipe(epochs=10, lr=0.1, milestones=(3, 6), gamma=0.2)
    assert [round(lr_at(recipe, e), 6) for e in range(10)] == [0.1] * 3 + [0.02] * 3 + [0.004] * 4


def test_cosine_reaches_min_lr_at_the_end() -> None:
    recipe = Recipe(epochs=4, lr=1.0, schedule="cosine", min_lr=0.0)
    assert [lr_at(recipe, e) for e in range(4)] == pytest.approx([1.0, 0.8535534, 0.5, 0.1464466])


def test_warmup_then_schedule() -> None:
    recipe = Recipe(epochs=6, lr=0.3, warmup_epochs=2, milestones=(4,), gamma=0.1)
    assert [lr_at(recipe, e) for e in range(6)] == pytest.approx([0.1, 0.2, 0.3, 0.3, 0.03, 0.03])
