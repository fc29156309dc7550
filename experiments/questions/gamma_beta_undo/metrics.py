"""gamma_beta_undo: per-member measurements from a training history.

The undo point of a batch-norm unit is gamma = sigma_B, beta = mu_B (the std and mean of the
batch that the norm divides out): there the layer returns its input unchanged. How far a unit
is from it is its *undo distance*

    |log(|gamma| / sigma_B)| + |beta - mu_B| / sigma_B,

the scale part in log units, so that gamma twice too large and gamma half too small are equally
far (log 2 each) and a move from a ratio of 2.5 to 0.47 is not counted as a move toward undoing;
the shift part is the offset left over in standard deviations of the unit. A negative gamma
counts by its size: it mirrors the input's distribution without changing its spread. Both parts
are 0 exactly at the undo point. Per member and layer the value is the median over units.
"""

from __future__ import annotations

import numpy as np

from ...trainer import History
from .spec import PER_STEPS

EPS = 1e-12


def undo_scale(gamma, sigma) -> np.ndarray:
    """Per unit: |log(|gamma| / sigma_B)|, 0 when gamma matches the batch std."""
    return np.abs(np.log(np.maximum(np.abs(gamma), EPS) / np.maximum(sigma, EPS)))


def undo_shift(beta, mu, sigma) -> np.ndarray:
    """Per unit: |beta - mu_B| / sigma_B, 0 when beta matches the batch mean."""
    return np.abs(beta - mu) / np.maximum(sigma, EPS)


def undo_distance(gamma, beta, mu, sigma) -> np.ndarray:
    """Per unit: the undo distance of the module doc; 0 means the layer is undone."""
    return undo_scale(gamma, sigma) + undo_shift(beta, mu, sigma)


def fold(end, start) -> np.ndarray:
    """How many times larger or smaller `end` is than `start` (always >= 1)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.exp(np.abs(np.log(np.maximum(end, EPS) / np.maximum(start, EPS))))


def ratio(end, start) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return end / np.maximum(start, EPS)


def median_units(values: np.ndarray) -> np.ndarray:
    """Median over the last (unit) axis, NaN-safe and silent where a member has no values."""
    out = np.full(values.shape[:-1], np.nan)
    has = np.isfinite(values).any(-1)
    out[has] = np.nanmedian(values[has], axis=-1)
    return out


def nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean over `axis` of the finite values; NaN, without a warning, where there are none."""
    finite = np.isfinite(values)
    count = finite.sum(axis)
    total = np.where(finite, values, 0.0).sum(axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def corr_units(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation across units (last axis) per member; NaN when either is constant."""
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    den = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > EPS, (a * b).sum(-1) / den, np.nan)


def stack(hist: History, key: str) -> np.ndarray:
    return np.stack(hist.probes[key]).astype(float)  # (T, M, ...)


def norm_layer(hist: History, i: int) -> tuple[dict, dict]:
    """Layer i's gamma, beta and batch statistics: per-member metrics {name: (M,)} and
    curves {name: (T, M)}."""
    g, be = stack(hist, f"layer{i}.gamma"), stack(hist, f"layer{i}.beta")  # (T, M, C)
    mu, sd = stack(hist, f"layer{i}.mu_B"), stack(hist, f"layer{i}.sigma_B")
    dist = median_units(undo_distance(g, be, mu, sd))  # (T, M)
    # The same statistics with gamma and beta left at their start: what the distance would be
    # had only the statistics moved. The difference is what gamma and beta did themselves.
    frozen = median_units(undo_distance(g[:1], be[:1], mu, sd))
    metrics = {
        "undo_distance_start": dist[0], "undo_distance": dist[-1],
        "undo_distance_frozen": frozen[-1],
        "undo_scale": median_units(undo_scale(g[-1], sd[-1])),
        "undo_shift": median_units(undo_shift(be[-1], mu[-1], sd[-1])),
        "sigma_B_start": median_units(sd[0]), "sigma_B_end": median_units(sd[-1]),
        "sigma_B_fold": median_units(fold(sd[-1], sd[0])),
        "gamma_end": median_units(g[-1]),
        "gamma_fold": median_units(fold(np.abs(g[-1]), np.abs(g[0]))),
        "gamma_over_sigma": median_units(np.abs(g[-1]) / np.maximum(sd[-1], EPS)),
        "gamma_sigma_corr": corr_units(g[-1], sd[-1]),
        "beta_mu_corr": corr_units(be[-1], mu[-1]),
    }
    return metrics, {"undo_distance": dist, "undo_distance_frozen": frozen}


def input_movement(hist: History, i: int) -> tuple[dict, np.ndarray]:
    """How far the distribution layer i's nonlinearity sees moved between probe points, per
    PER_STEPS steps: each unit's mean shift in units of its std plus the size of the change of
    its log std, median over units. Per-member means over training, and the (T-1, M) curve."""
    dt = np.diff(np.asarray(hist.steps, dtype=float))[:, None]  # (T-1, 1)
    zm, zs = stack(hist, f"layer{i}.z_mean"), stack(hist, f"layer{i}.z_std")
    zs = np.maximum(zs, EPS)
    mean_part = median_units(np.abs(np.diff(zm, axis=0)) / zs[:-1]) / dt * PER_STEPS
    std_part = median_units(np.abs(np.diff(np.log(zs), axis=0))) / dt * PER_STEPS
    curve = mean_part + std_part  # (T-1, M)
    return {"input_shift": nanmean(curve, 0), "input_mean_shift": nanmean(mean_part, 0),
            "input_std_shift": nanmean(std_part, 0)}, curve


def layer_metrics(hist: History, i: int) -> tuple[dict, dict]:
    """Every per-member metric of layer i {name: (M,)} and its curves {name: (T, M)}."""
    w, b = stack(hist, "weight_norm")[:, :, i], stack(hist, "bias_norm")[:, :, i]  # (T, M)
    later = np.asarray(hist.steps) > 0
    moved, shift_curve = input_movement(hist, i)
    out = {"pre_norm_bias_growth": ratio(b[-1], b[0]),
           "pre_norm_weight_growth": ratio(w[-1], w[0]),
           "weight_norm_end": w[-1], "bias_norm_end": b[-1], **moved}
    for key in ("ics_l2", "ics_cosine", "ics_relative"):  # nothing below the first layer
        out[key] = (nanmean(stack(hist, key)[later][:, :, i], 0) if i > 0
                    else np.full(w.shape[1], np.nan))
    norm, norm_curves = norm_layer(hist, i)
    return {**out, **norm}, {"input_shift": shift_curve, **norm_curves}


def whole_metrics(hist: History) -> tuple[dict, dict]:
    """Whole-network per-member metrics {name: (M,)} and curves {name: (T, M)}."""
    w, b = stack(hist, "weight_norm"), stack(hist, "bias_norm")  # (T, M, L)
    later = np.asarray(hist.steps) > 0
    out = {"test_acc": hist.final("test_acc"), "train_acc": hist.final("train_acc"),
           "final_train_loss": hist.final("train_loss"),
           "pre_norm_bias_growth": ratio(b[-1].sum(-1), b[0].sum(-1)),
           "pre_norm_weight_growth": ratio(w[-1].sum(-1), w[0].sum(-1))}
    curves = {"bias_norm_total": b.sum(-1), "weight_norm_total": w.sum(-1)}
    for key in ("loss_variation", "grad_predictiveness", "beta_smoothness"):
        series = stack(hist, key)  # (T, M)
        curves[key] = series
        out[key] = nanmean(series[later], 0)
    return out, curves


# Layer metrics whose network-wide value is a geometric mean over layers (they are factors).
# ICS is missing for the first layer, so its network-wide value is over the layers above it.
FACTOR_METRICS = ("sigma_B_fold", "gamma_fold", "gamma_over_sigma")


def over_layers(per_layer: list[dict]) -> dict:
    """Network-wide values of layer metrics: the mean over layers (geometric for factors)."""
    out = {}
    for name in per_layer[0]:
        if name.startswith("pre_norm") or name.endswith("norm_end"):
            continue  # the whole-network versions sum the norms instead
        values = np.stack([layer[name] for layer in per_layer])  # (L, M)
        if name in FACTOR_METRICS:
            with np.errstate(invalid="ignore", divide="ignore"):
                out[name] = np.exp(nanmean(np.log(values), 0))
        else:
            out[name] = nanmean(values, 0)
    return out
