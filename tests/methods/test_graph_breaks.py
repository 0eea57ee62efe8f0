"""Every built-in method's training step traces into one graph (``torch.compile`` without graph
breaks): with labels, with every label hidden, from the live teacher and from a logits table."""

from __future__ import annotations

import pytest
import torch
import torch._dynamo
import torch.nn.functional as F

from kdbench.engine.evaluate import predict
from kdbench.engine.teacher_logits import LogitsTable
from kdbench.methods.ce import ce_loss
from kdbench.plugins import get_plugin_manager
from kdbench.specs import Recipe
from kdbench.testing.tiny import lenet_pair, tiny_data

RECIPE = Recipe(epochs=4)


def builtin_methods() -> list[str]:
    methods = get_plugin_manager().methods
    return [name for name in methods.names() if methods.find(name).distribution.startswith("kdbench ")]


def graph_breaks(name: str, labelled: bool, table: bool) -> list[str]:
    """The graph breaks of two training steps of method ``name`` (its first step may take a path
    the later ones do not) on a tiny batch."""
    info = get_plugin_manager().methods.get(name)
    params = info.Params.model_validate({}, context={"recipe": RECIPE})
    mask = torch.full((48,), labelled)
    data = tiny_data(label_mask=mask)
    torch.manual_seed(0)
    student, teacher = lenet_pair(data)
    distiller = info.factory(student, teacher if info.needs_teacher else None, params)
    distiller.prepare(data)
    distiller.train()
    if table:
        distiller.teacher_source = LogitsTable(predict(teacher, data, 1000, torch.device("cpu")))
    reasons = []
    for seed in (0, 1):
        batch = next(data.train_batches(16, torch.Generator().manual_seed(seed)))
        torch._dynamo.reset()
        explained = torch._dynamo.explain(distiller)(batch, 0)
        reasons += [str(reason.reason).splitlines()[0] for reason in explained.break_reasons]
        assert explained.graph_break_count == len(explained.break_reasons)
    return reasons


@pytest.mark.parametrize("name", builtin_methods())
def test_the_training_step_has_no_graph_break(name: str) -> None:
    assert graph_breaks(name, labelled=True, table=False) == []


@pytest.mark.parametrize("name", ["ce", "kd"])
def test_the_step_has_no_graph_break_without_labels_or_with_a_logits_table(name: str) -> None:
    assert graph_breaks(name, labelled=False, table=name == "kd") == []


def test_ce_loss_is_cross_entropy_exactly_when_every_label_is_known() -> None:
    """Results made before ``ce_loss`` became branch-free stay bitwise the same."""
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        logits = torch.randn(64, 10, generator=generator) * 4
        labels = torch.randint(0, 10, (64,), generator=generator)
        known = torch.ones(64, dtype=torch.bool)
        for smoothing in (0.0, 0.1):
            assert torch.equal(ce_loss(logits, labels, known, smoothing),
                               F.cross_entropy(logits, labels, label_smoothing=smoothing))


def test_ce_loss_without_known_labels_is_zero_with_zero_finite_gradients() -> None:
    logits = torch.randn(8, 5, requires_grad=True)
    loss = ce_loss(logits, torch.full((8,), -1), torch.zeros(8, dtype=torch.bool), 0.1)
    loss.backward()
    assert loss.item() == 0.0 and logits.grad is not None and torch.equal(logits.grad, torch.zeros(8, 5))
