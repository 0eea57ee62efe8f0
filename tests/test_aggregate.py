"""Aggregation over seeds: mean, std and the t-interval of one cell."""

from __future__ import annotations

import math

import pytest

from kdbench.aggregate import summarize


def test_summarize_uses_the_t_interval() -> None:
    stat = summarize([1.0, 2.0, 3.0])
    assert (stat.mean, stat.std, stat.n) == (2.0, 1.0, 3)
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, 2) * std / sqrt(n)
    assert (stat.low, stat.high) == pytest.approx((2 - half, 2 + half))


def test_single_value_has_no_interval_and_empty_has_no_stat() -> None:
    stat = summarize([5.0])
    assert stat.mean == 5.0 and stat.std == 0.0 and math.isnan(stat.low)
    assert summarize([]) is None

