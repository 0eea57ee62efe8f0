"""A pretrained classifier is replaced only when it is a Linear or a Conv2d; anything else is one
line naming where it is, not an AttributeError."""

from __future__ import annotations

import pytest
from torch import nn

from kdbench.errors import KdbenchError
from kdbench.models import external


def test_a_conv_head_is_replaced_by_one_with_the_new_classes() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 1000, 1, stride=1, padding=0))
    external._replace_head(model, "1", 7)
    head = model[1]
    assert isinstance(head, nn.Conv2d) and head.out_channels == 7 and head.in_channels == 8
    assert head.kernel_size == (1, 1)


def test_another_head_is_refused_in_one_line() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Bilinear(8, 8, 1000))
    with pytest.raises(KdbenchError, match=r"^the classifier at 1 is a Bilinear, not a Linear or Conv2d$"):
        external._replace_head(model, "1", 7)
