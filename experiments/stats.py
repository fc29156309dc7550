"""Statistics over seeds: mean with a t-based 95% CI, paired differences, honest phrasing.

Every sentence in a summary that compares two numbers goes through `compare()`, so that a
difference inside the noise is reported as "no reliable difference" and never as an effect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Two-sided 95% Student-t quantiles t_{0.975, df} for df = 1..30.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile_975(df: int) -> float:
    if df < 1:
        raise ValueError("need at least two samples for a t interval")
    if df <= 30:
        return _T975[df - 1]
    # Cornish-Fisher expansion around the normal quantile; error < 1e-3 for df > 30.
    z = 1.959964
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    return z + g1 / df + g2 / df**2


@dataclass(frozen=True)
class Estimate:
    """Mean over n values with a 95% CI; the CI is (mean, mean) when n < 2."""

    mean: float
    lo: float
    hi: float
    n: int

    @property
    def ci95(self) -> list[float]:
        return [self.lo, self.hi]

    def excludes_zero(self) -> bool:
        return self.n >= 2 and (self.lo > 0 or self.hi < 0)


def mean_ci(values: Sequence[float] | np.ndarray) -> Estimate:
    """Mean and t-based 95% CI of the finite values (NaNs are dropped and not counted)."""
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Estimate(mean, mean, mean, 1)
    half = t_quantile_975(n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n)


def paired_diff(a: Sequence[float], b: Sequence[float]) -> Estimate:
    """CI of mean(a - b) over seeds present (finite) in both; pairs share a seed."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired values need equal shapes, got {x.shape} and {y.shape}")
    keep = np.isfinite(x) & np.isfinite(y)
    return mean_ci(x[keep] - y[keep])


def fmt(value: float, digits: int = 2) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}f}"


def fmt_ci(est: Estimate, digits: int = 2) -> str:
    """'0.71 (95% CI 0.68 to 0.74)'; just the mean when there is one seed."""
    if est.n < 2:
        return f"{fmt(est.mean, digits)} (one seed, no CI)"
    return f"{fmt(est.mean, digits)} (95% CI {fmt(est.lo, digits)} to {fmt(est.hi, digits)})"


def compare(diff: Estimate, a_name: str, b_name: str, metric: str,
            digits: int = 2) -> str:
    """Phrase `a - b` honestly.

    "test accuracy of BN is higher than GN by 0.12 (95% CI 0.08 to 0.16)" when the CI excludes
    zero, else "no reliable difference in test accuracy between BN and GN (... CI -0.01 to 0.03)".
    """
    if diff.n < 2 or not math.isfinite(diff.mean):
        return (f"{metric} of {a_name} minus {b_name}: {fmt(diff.mean, digits)} "
                f"(too few seeds for a confidence interval)")
    ci = f"95% CI {fmt(diff.lo, digits)} to {fmt(diff.hi, digits)}"
    if not diff.excludes_zero():
        return (f"no reliable difference in {metric} between {a_name} and {b_name} "
                f"({fmt(diff.mean, digits)}, {ci})")
    word = "higher" if diff.mean > 0 else "lower"
    lo, hi = (diff.lo, diff.hi) if diff.mean > 0 else (-diff.hi, -diff.lo)
    ci = f"95% CI {fmt(lo, digits)} to {fmt(hi, digits)}"
    return f"{metric} of {a_name} is {word} than {b_name} by {fmt(abs(diff.mean), digits)} ({ci})"


def sentence(text: str) -> str:
    """A compare() phrase used as a sentence of its own: capitalised first letter."""
    return text[:1].upper() + text[1:]


def direction(diff: Estimate) -> int:
    """+1 / -1 when the CI excludes zero on that side, 0 when no reliable difference."""
    if not diff.excludes_zero():
        return 0
    return 1 if diff.mean > 0 else -1


def metric_cells(values: dict[str, Sequence[float] | np.ndarray]) -> dict[str, object]:
    """Row cells for metrics over seeds: m and m_ci95 for each, and n_seeds, the number of
    seeds behind the first (primary) metric. A metric that does not apply (all NaN) gets
    None and [None, None]."""
    cells: dict[str, object] = {}
    n = None
    for name, v in values.items():
        est = mean_ci(v)
        cells[name] = est.mean
        cells[f"{name}_ci95"] = est.ci95
        n = est.n if n is None else n
    cells["n_seeds"] = n or 0
    return cells
