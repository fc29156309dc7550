"""Findings: the measured claims an answer is made of.

A question type measures per-seed cells (experiments.runner), then a list of small finding
functions turns them into `Finding`s. A finding function chooses the comparison and, at most,
the wording for each outcome; it never formats a number. The numbers in a finding's text are
filled in here from the comparison itself, so the text and the JSON beside it cannot disagree,
and a sentence that claims an effect is only chosen when the confidence interval excludes
"no effect". The verdict and the answer (experiments.writeup) are built from findings alone.

Wording templates use placeholders, all filled from the comparison:
  {a} {b}            labels of the two sides
  {metric}           what is compared, in words
  {mean_a} {mean_b}  means over seeds (geometric means for ratio comparisons)
  {diff} {lo} {hi}   the difference a - b (or the ratio a / b) and its 95% CI, as measured;
                     {size} {size_lo} {size_hi} the same as a positive amount, lo <= hi
  {n}                the number of seeds behind the comparison
and any extra `context` values the finding function passes (batch sizes, step counts).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .stats import Estimate, mean_ci, paired_diff

DIRECTIONS = (-1, 0, 1)


@dataclass(frozen=True)
class Side:
    """One side of a comparison: its label, per-seed values, and which seeds diverged."""

    label: str
    values: np.ndarray  # (seeds,)
    diverged: np.ndarray | None = None  # (seeds,) bool

    @property
    def n_diverged(self) -> int:
        return 0 if self.diverged is None else int(np.asarray(self.diverged).sum())


@dataclass(frozen=True)
class Finding:
    key: str
    text: str  # one plain sentence
    importance: float = 0.5  # 0..1: which findings make it into the short answer
    metric: str | None = None
    a: str | None = None
    b: str | None = None
    mean_a: float | None = None
    mean_b: float | None = None
    diff: float | None = None  # a - b, or a / b when `scale` is "ratio"
    diff_ci95: tuple[float, float] | None = None
    n: int | None = None
    direction: int = 0  # +1: a reliably above b (or the threshold), -1 below, 0 neither
    scale: str = "difference"  # "difference" | "ratio" | "estimate"
    values: dict[str, Any] = field(default_factory=dict)  # every number the text quotes

    def to_json(self) -> dict:
        return {"key": self.key, "text": self.text, "metric": self.metric, "a": self.a,
                "b": self.b, "mean_a": _finite(self.mean_a), "mean_b": _finite(self.mean_b),
                "diff": _finite(self.diff),
                "diff_ci95": None if self.diff_ci95 is None
                else [_finite(v) for v in self.diff_ci95],
                "n": self.n, "direction": self.direction, "scale": self.scale,
                "importance": self.importance}


@dataclass(frozen=True)
class Verdict:
    text: str  # the plain-words answer to the question, first in every rendering
    findings: tuple[str, ...]  # the keys it rests on

    def to_json(self) -> dict:
        return {"text": self.text, "findings": list(self.findings)}


def fmt_number(value: float | int | None, digits: int = 2) -> str:
    """The one number format of answers: fixed decimals, thousands separated, 'n/a' if none."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return f"{int(value):,}"
    text = f"{float(value):,.{digits}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text  # no "-0.00"


DEFAULT_TEXT = {
    1: "{a} reached {mean_a} {metric} against {mean_b} for {b}, {size} higher "
       "(95% CI {size_lo} to {size_hi}, {n} seeds).",
    -1: "{a} reached {mean_a} {metric} against {mean_b} for {b}, {size} lower "
        "(95% CI {size_lo} to {size_hi}, {n} seeds).",
    0: "{a} and {b} did not differ reliably in {metric}: {mean_a} against {mean_b} "
       "(difference {diff}, 95% CI {lo} to {hi}, {n} seeds).",
}
RATIO_TEXT = {
    1: "{metric} was {diff} times as large with {a} as with {b} "
       "(95% CI {lo} to {hi}, {n} seeds).",
    -1: "{metric} was {diff} times as large with {a} as with {b}, so smaller "
        "(95% CI {lo} to {hi}, {n} seeds).",
    0: "{metric} did not differ reliably between {a} and {b} "
       "(ratio {diff}, 95% CI {lo} to {hi}, {n} seeds).",
}
FEW_SEEDS_TEXT = ("{a}: {metric} {mean_a}; {b}: {mean_b}. With one seed there is no "
                  "confidence interval, so this is not a measured difference.")


def compare(key: str, metric: str, a: Side, b: Side, *, importance: float = 0.5,
            texts: Mapping[int, str] | None = None, digits: int = 2, ratio: bool = False,
            paired: bool = True, context: Mapping[str, Any] | None = None,
            prefix: str = "") -> Finding:
    """Finding for a - b over seeds (paired by seed unless `paired` is False).

    With `ratio`, the comparison is of logs and is reported as the ratio of geometric means,
    for quantities that grow by factors (norms, growth ratios)."""
    x, y = np.asarray(a.values, float), np.asarray(b.values, float)
    if ratio:
        with np.errstate(invalid="ignore", divide="ignore"):
            x, y = np.log(x), np.log(y)
    est = paired_diff(x, y) if paired else _unpaired(x, y)
    ea, eb = mean_ci(x), mean_ci(y)
    mean_a, mean_b = (math.exp(ea.mean), math.exp(eb.mean)) if ratio else (ea.mean, eb.mean)
    if ratio:
        diff, lo, hi = (math.exp(v) if math.isfinite(v) else math.nan
                        for v in (est.mean, est.lo, est.hi))
    else:
        diff, lo, hi = est.mean, est.lo, est.hi
    direction = _direction(est)
    if all(abs(v) < 0.5 * 10**-digits for v in (lo, hi) if math.isfinite(v)):
        digits += 1  # an interval that would print as "0.00 to 0.00" gets one more digit
    digits = _digits_for(lo, hi, 1.0 if ratio else 0.0, digits, resolved=direction != 0)
    if not ratio:
        digits = _digits_to_agree(mean_a, mean_b, diff, digits)
    base = RATIO_TEXT if ratio else DEFAULT_TEXT
    template = FEW_SEEDS_TEXT if est.n < 2 else (texts or base).get(direction, base[direction])
    template = prefix + template  # e.g. "At batch {batch}, " before the comparison
    values = {"mean_a": mean_a, "mean_b": mean_b, "diff": diff, "lo": lo, "hi": hi,
              "size": abs(diff), "size_lo": min(abs(lo), abs(hi)) if direction else lo,
              "size_hi": max(abs(lo), abs(hi)) if direction else hi}
    text = fill(template, {"a": a.label, "b": b.label, "metric": metric, "n": est.n,
                           **(context or {})}, values, digits)
    text = text + _divergence_note(a, b)
    return Finding(key=key, text=_capital(text), importance=importance, metric=metric,
                   a=a.label, b=b.label, mean_a=mean_a, mean_b=mean_b, diff=diff,
                   diff_ci95=(lo, hi), n=est.n, direction=direction,
                   scale="ratio" if ratio else "difference",
                   values={**values, **dict(context or {}), "n": est.n,
                           "diverged_a": a.n_diverged, "diverged_b": b.n_diverged,
                           "seeds": len(a.values)})


def estimate(key: str, metric: str, side: Side, texts: Mapping[int, str], *,
             threshold: float = 0.0, importance: float = 0.5, digits: int = 2,
             context: Mapping[str, Any] | None = None) -> Finding:
    """Finding for one quantity against a threshold: direction +1 when its CI lies above the
    threshold, -1 below, 0 when it straddles it. Placeholders: {a} {metric} {mean} {lo} {hi}
    {n} {threshold} and the context."""
    est = mean_ci(np.asarray(side.values, float))
    if est.n < 2:
        direction = 0
    else:
        direction = 1 if est.lo > threshold else -1 if est.hi < threshold else 0
    digits = _digits_for(est.lo, est.hi, threshold, digits, resolved=direction != 0)
    values = {"mean": est.mean, "lo": est.lo, "hi": est.hi, "threshold": threshold}
    text = fill(texts[direction], {"a": side.label, "metric": metric, "n": est.n,
                                   **(context or {})}, values, digits)
    text = text + _divergence_note(side)
    return Finding(key=key, text=_capital(text), importance=importance, metric=metric,
                   a=side.label, mean_a=est.mean, diff_ci95=(est.lo, est.hi), n=est.n,
                   direction=direction, scale="estimate",
                   values={**values, **dict(context or {}), "n": est.n,
                           "diverged_a": side.n_diverged, "seeds": len(side.values)})


MAX_DIGITS = 4


def _digits_for(lo: float, hi: float, null: float, digits: int, resolved: bool) -> int:
    """Decimals enough that a resolved interval visibly excludes the null value: a CI of
    -0.035 to -0.004 would print as "0.00 to 0.03" at two decimals, as if it touched 0."""
    if not resolved or not (math.isfinite(lo) and math.isfinite(hi)):
        return digits
    gap = min(abs(lo - null), abs(hi - null))
    while digits < MAX_DIGITS and gap < 0.5 * 10**-digits:
        digits += 1
    return digits


def _digits_to_agree(mean_a: float, mean_b: float, diff: float, digits: int) -> int:
    """One more decimal where a small difference disagrees with the printed means: 0.625
    against 0.602 would print as "0.63 against 0.60, 0.02 lower" at two. Rounding can always
    leave the last digit one off; that matters only while the difference shows a single
    significant digit. Only where the difference is that of the means (no seed left out)."""
    if not all(map(math.isfinite, (mean_a, mean_b, diff))) or abs(mean_a - mean_b - diff) > 1e-9:
        return digits

    def shown(value: float) -> float:
        return float(fmt_number(value, digits).replace(",", ""))

    unit = 10.0**-digits
    off = abs(shown(mean_a) - shown(mean_b) - shown(diff)) > 0.5 * unit
    return digits + 1 if off and abs(diff) < 10 * unit and digits < MAX_DIGITS else digits


def divergence(key: str, side: Side, scored_as: str, importance: float = 0.9,
               context: Mapping[str, Any] | None = None) -> Finding | None:
    """A finding that names an arm whose training diverged, or None when no seed did.
    `scored_as` says how its diverged seeds enter the comparisons, in words."""
    k = side.n_diverged
    if k == 0:
        return None
    n = len(side.values)
    text = fill("{a} diverged (its loss stopped being a finite number) in {k} of {n} seeds"
                "{where}; those seeds count as {scored_as}.",
                {"a": side.label, "k": k, "n": n, "scored_as": scored_as,
                 "where": (context or {}).get("where", "")}, {}, 2)
    return Finding(key=key, text=_capital(text), importance=importance, metric="diverged",
                   a=side.label, mean_a=k / n, n=n, direction=1, scale="estimate",
                   values={"k": k, "n": n, **dict(context or {})})


def fill(template: str, words: Mapping[str, Any], numbers: Mapping[str, float],
         digits: int) -> str:
    """Fill a template: `numbers` in the one number format, `words` as they are (ints in
    `words` get thousands separators, floats their shortest form, e.g. a setting of 5e-3
    reads 0.005). A missing placeholder is a programming error."""
    shown = {k: fmt_number(v, digits) for k, v in numbers.items()}
    for k, v in words.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            shown[k] = str(v)
        elif isinstance(v, int):
            shown[k] = fmt_number(v)
        else:
            shown[k] = f"{v:.4g}" if abs(v) >= 1e-4 or v == 0 else f"{v:.1e}"
    return template.format_map(_Strict(shown))


class _Strict(dict):
    def __missing__(self, key):
        raise KeyError(f"template placeholder {{{key}}} has no value")


def _divergence_note(*sides: Side) -> str:
    return "".join(f" {_capital(s.label)} diverged in {s.n_diverged} of {len(s.values)} seeds."
                   for s in sides if s.n_diverged)


def _direction(est: Estimate) -> int:
    if not est.excludes_zero():
        return 0
    return 1 if est.mean > 0 else -1


def _unpaired(x: np.ndarray, y: np.ndarray) -> Estimate:
    """Welch-style CI of mean(x) - mean(y) for independent samples."""
    from .stats import t_quantile_975

    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if len(x) < 2 or len(y) < 2:
        return Estimate(float(np.mean(x) - np.mean(y)) if len(x) and len(y) else math.nan,
                        math.nan, math.nan, min(len(x), len(y)))
    vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    se = math.sqrt(vx + vy)
    df = (vx + vy) ** 2 / max(vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1), 1e-300)
    half = t_quantile_975(max(1, int(df))) * se
    d = float(x.mean() - y.mean())
    return Estimate(d, d - half, d + half, min(len(x), len(y)))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
