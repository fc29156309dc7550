"""Statistics helpers: intervals against SciPy, and the honest phrasing of comparisons."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from experiments import stats


@pytest.mark.parametrize("df", [1, 2, 5, 10, 29, 30, 31, 50, 200])
def test_t_quantile_matches_scipy(df):
    assert stats.t_quantile_975(df) == pytest.approx(sps.t.ppf(0.975, df), abs=2e-3)


def test_mean_ci_matches_the_t_interval():
    x = np.array([0.61, 0.64, 0.58, 0.66, 0.63])
    est = stats.mean_ci(x)
    lo, hi = sps.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
    assert est.mean == pytest.approx(x.mean())
    assert (est.lo, est.hi) == pytest.approx((lo, hi), abs=1e-3)
    assert est.n == 5


def test_mean_ci_drops_nan_and_handles_one_value():
    est = stats.mean_ci([0.5, float("nan")])
    assert (est.mean, est.lo, est.hi, est.n) == (0.5, 0.5, 0.5, 1)
    assert math.isnan(stats.mean_ci([]).mean)


def test_paired_diff_uses_pairs_present_in_both():
    est = stats.paired_diff([1.0, 2.0, 3.0, float("nan")], [0.5, 1.5, 2.6, 9.0])
    assert est.n == 3
    assert est.mean == pytest.approx(np.mean([0.5, 0.5, 0.4]))


def test_compare_says_no_reliable_difference_when_the_ci_covers_zero():
    d = stats.paired_diff([0.60, 0.70, 0.65], [0.62, 0.66, 0.66])
    text = stats.compare(d, "BN", "GN", "test accuracy")
    assert text.startswith("no reliable difference in test accuracy between BN and GN")
    assert stats.direction(d) == 0


def test_compare_states_direction_and_a_positive_interval():
    d = stats.paired_diff([0.50, 0.52, 0.51, 0.49], [0.60, 0.63, 0.60, 0.61])
    text = stats.compare(d, "EWA", "BN", "test accuracy")
    assert text.startswith("test accuracy of EWA is lower than BN by 0.10")
    lo, hi = (float(v) for v in text.split("95% CI ")[1].rstrip(")").split(" to "))
    assert 0 < lo <= 0.10 <= hi
    assert stats.direction(d) == -1


def test_metric_cells_give_mean_interval_and_primary_n():
    cells = stats.metric_cells({"acc": [0.5, 0.6, 0.7], "err": [float("nan")] * 3})
    assert cells["acc"] == pytest.approx(0.6)
    assert cells["acc_ci95"][0] < 0.6 < cells["acc_ci95"][1]
    assert cells["n_seeds"] == 3
    assert math.isnan(cells["err"])
