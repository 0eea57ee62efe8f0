"""Aggregation over seeds and the paired difference to the CE student."""

from __future__ import annotations

import math

import pytest

from kdbench.aggregate import paired_difference, summarize


def test_summarize_uses_the_t_interval() -> None:
    stat = summarize([1.0, 2.0, 3.0])
    assert (stat.mean, stat.std, stat.n) == (2.0, 1.0, 3)
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, 2) * std / sqrt(n)
    assert (stat.low, stat.high) == pytest.approx((2 - half, 2 + half))


def test_single_value_has_no_interval_and_empty_has_no_stat() -> None:
    stat = summarize([5.0])
    assert stat.mean == 5.0 and stat.std == 0.0 and math.isnan(stat.low)
    assert summarize([]) is None


def test_paired_difference_matches_seeds() -> None:
    method = {0: 91.0, 1: 93.0, 2: 90.0}
    baseline = {0: 90.0, 1: 90.0, 3: 50.0}
    stat = paired_difference(method, baseline)
    assert stat.n == 2 and stat.mean == pytest.approx(2.0)
