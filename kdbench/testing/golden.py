"""Building blocks of a method's golden test against its reference formula: networks that answer
fixed logits, the batch that indexes them, and a central finite difference of a loss."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from kdbench.data.tensors import Batch


class FixedLogits(nn.Module):
    """A network whose answer to example ``i`` is row ``i`` of ``logits`` (a trainable parameter,
    so gradients reach it); its input is the examples' indices, as ``logits_batch`` gives them."""

    def __init__(self, logits: Tensor):
        super().__init__()
        self.logits = nn.Parameter(torch.as_tensor(logits).clone())

    def forward(self, images: Tensor) -> Tensor:
        return self.logits[images.long()]


def logits_batch(labels: Sequence[int] | Tensor) -> Batch:
    """A batch of ``len(labels)`` examples, every label known, whose images are their indices."""
    index = torch.arange(len(labels))
    return Batch(index, torch.as_tensor(labels), index, torch.ones(len(labels), dtype=torch.bool))


def finite_difference(loss: Callable[[], Tensor], parameter: Tensor, at: tuple[int, ...],
                      step: float = 1e-6) -> float:
    """The central difference of ``loss()`` in entry ``at`` of ``parameter`` (left as it was), to
    compare with the gradient autograd gives (float64 logits keep it exact to about 1e-9)."""
    with torch.no_grad():
        value = parameter[at].clone()
        parameter[at] = value + step
        up = float(loss())
        parameter[at] = value - step
        down = float(loss())
        parameter[at] = value
    return (up - down) / (2 * step)
