"""Cross-entropy with hidden labels: only labels whose ``label_mask`` is True count, and the hidden
ones' values never matter."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kdbench.methods.ce import ce_loss


def test_hidden_labels_are_left_out_whatever_their_values() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    mask = torch.tensor([True, False, True])
    expected = F.cross_entropy(logits[[0, 2]], torch.tensor([0, 1]))
    for hidden in (-1, 0, 1, 7):
        assert torch.isclose(ce_loss(logits, torch.tensor([0, hidden, 1]), mask), expected)


def test_all_hidden_gives_zero_with_a_gradient_path() -> None:
    logits = torch.randn(4, 3, requires_grad=True)
    loss = ce_loss(logits, torch.tensor([0, 5, -1, 2]), torch.zeros(4, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(logits.grad, torch.zeros(4, 3))


def test_all_known_is_plain_cross_entropy_with_label_smoothing() -> None:
    logits, labels = torch.randn(5, 3), torch.tensor([0, 1, 2, 1, 0])
    expected = F.cross_entropy(logits, labels, label_smoothing=0.1)
    assert torch.equal(ce_loss(logits, labels, torch.ones(5, dtype=torch.bool), 0.1), expected)
