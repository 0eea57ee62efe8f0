"""Cross-entropy with hidden labels: distillation data used without its labels marks them -1."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kdbench.methods.ce import ce_loss


def test_hidden_labels_are_left_out() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    labels = torch.tensor([0, -1, 1])
    expected = F.cross_entropy(logits[[0, 2]], labels[[0, 2]])
    assert torch.isclose(ce_loss(logits, labels), expected)


def test_all_hidden_gives_zero_with_a_gradient_path() -> None:
    logits = torch.randn(4, 3, requires_grad=True)
    loss = ce_loss(logits, torch.full((4,), -1))
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(logits.grad, torch.zeros(4, 3))
