"""The statistics boards draw conclusions from, against scipy and values worked out by hand."""

from __future__ import annotations

import math

import pytest
from scipy import stats as scipy_stats

from kdbench.stats import PAIRED, WELCH, difference, holm, one_sample, slope, welch


def test_one_sample_matches_scipy_t_test_and_interval() -> None:
    values = [1.2, 0.4, 2.1, 0.9]
    estimate = one_sample(values, PAIRED)
    reference = scipy_stats.ttest_1samp(values, 0.0)
    low, high = reference.confidence_interval(0.95)
    assert (estimate.value, estimate.n) == (pytest.approx(1.15), 4)
    assert (estimate.low, estimate.high, estimate.p) == pytest.approx((low, high, reference.pvalue))
    assert estimate.separated


def test_welch_matches_scipy() -> None:
    a, b = [91.0, 92.5, 90.8], [89.0, 90.1, 88.2, 89.9, 90.4]
    estimate = welch(a, b)
    reference = scipy_stats.ttest_ind(a, b, equal_var=False)
    low, high = reference.confidence_interval(0.95)
    assert estimate.method == WELCH and estimate.n == 3
    assert (estimate.low, estimate.high, estimate.p) == pytest.approx((low, high, reference.pvalue))


def test_difference_pairs_by_seed_only_when_both_ran_the_same_seeds() -> None:
    a = {0: 91.0, 1: 93.0, 2: 90.0}
    paired = difference(a, {0: 90.0, 1: 92.5, 2: 89.0})
    assert paired.method == PAIRED and paired.value == pytest.approx(5 / 6) and paired.n == 3
    unpaired = difference(a, {0: 90.0, 1: 92.5, 3: 89.0})
    assert unpaired.method == WELCH and unpaired.n == 3


def test_one_run_or_no_spread_gives_no_interval_and_no_p() -> None:
    for estimate in (one_sample([0.5], PAIRED), difference({0: 95.3, 1: 95.3}, {0: 93.8, 1: 93.8}),
                     welch([1.0, 1.0], [0.0, 0.0]), welch([1.0], [0.0, 0.5])):
        assert math.isnan(estimate.low) and math.isnan(estimate.p) and not estimate.separated
    assert difference({0: 95.3, 1: 95.3}, {0: 93.8, 1: 93.8}).value == pytest.approx(1.5)
    assert one_sample([], PAIRED) is None and welch([], [1.0]) is None


def test_slope_is_least_squares_and_none_without_spread_in_x() -> None:
    assert slope([0.0, 1.0, 2.0], [1.0, 3.0, 5.0]) == pytest.approx(2.0)
    assert slope([3.0, 4.0, 5.0], [2.0, 1.0, 3.0]) == pytest.approx(0.5)
    assert slope([1.0, 1.0], [0.0, 5.0]) is None


def test_holm_by_hand() -> None:
    # Sorted 0.01, 0.02, 0.04 get x3, x2, x1 = 0.03, 0.04, 0.04 (kept monotone); NaN is not a test.
    assert holm([0.04, math.nan, 0.01, 0.02]) == pytest.approx([0.04, math.nan, 0.03, 0.04], nan_ok=True)
    assert holm([0.5, 0.6]) == [1.0, 1.0]
    assert holm([]) == []
