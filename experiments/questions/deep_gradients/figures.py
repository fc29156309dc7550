"""deep_gradients: the figures (the first is the key figure)."""

from __future__ import annotations

import numpy as np

from ... import figures
from ...stats import mean_ci
from .spec import LABELS, PHASES, RELU_RATE

PHASE_NAMES = {"init": "at initialisation", "trained": "after the short training run"}


def _geometric(values: np.ndarray) -> tuple[float, float, float]:
    """Geometric mean and 95% CI of positive values (norms spread by factors)."""
    est = mean_ci(np.log(np.asarray(values, float)))
    return tuple(float(np.exp(v)) for v in (est.mean, est.lo, est.hi))


def figure_per_layer(ctx, cells, arms, depth):
    fig, axes = figures.subplots(ncols=2, height=3.6, sharey=True)
    for ax, phase in zip(axes[0], PHASES, strict=True):
        for i, arm in enumerate(arms):
            layers = sorted(c.labels["layer"] for c in cells.where(arm=arm, depth=depth,
                                                                   phase=phase)
                            if c.labels["layer"] is not None)
            stats = [_geometric(cells.get(arm=arm, depth=depth, phase=phase,
                                          layer=k).values["grad_norm"]) for k in layers]
            if stats:
                mean, lo, hi = zip(*stats, strict=True)
                figures.band(ax, layers, mean, lo, hi, LABELS[arm], i, marker=".")
        ax.set_yscale("log")
        ax.set_xlabel("layer (1 = next to the input)")
        ax.set_title(PHASE_NAMES[phase])
    axes[0, 0].set_ylabel("||dL/dW|| (geometric mean, 95% CI)")
    figures.legend_below(axes[0, 0], ncol=2)
    return figures.save(fig, ctx, "gradient_norm_per_layer",
                        f"Norm of each layer's weight gradient in the {depth}-layer networks, "
                        f"at initialisation and after the short training run; a line falling "
                        f"to the right is a gradient that grows toward the input.")


def figure_growth(ctx, cells, arms, depths):
    fig, axes = figures.subplots(ncols=2, height=3.4, sharey=True)
    for ax, phase in zip(axes[0], PHASES, strict=True):
        for i, arm in enumerate(arms):
            est = [mean_ci(cells.get(arm=arm, depth=d, phase=phase, layer=None)
                           .values["grad_growth_per_layer"]) for d in depths]
            figures.band(ax, depths, [e.mean for e in est], [e.lo for e in est],
                         [e.hi for e in est], LABELS[arm], i)
        ax.axhline(RELU_RATE, color="grey", linestyle="--", linewidth=0.9,
                   label="theory, batch norm with ReLU")
        ax.axhline(1.0, color="black", linewidth=0.6)
        figures.plain_log(ax, "x")
        ax.set_xticks(depths)
        ax.set_xlabel("hidden layers")
        ax.set_title(PHASE_NAMES[phase])
    axes[0, 0].set_ylabel("growth of ||dL/dW|| per layer")
    figures.legend_below(axes[0, 0], ncol=2)
    return figures.save(fig, ctx, "growth_per_layer",
                        "Factor by which the weight gradient grows per layer toward the input "
                        "(1 = flat), against depth, with the mean-field prediction for wide "
                        "batch-norm ReLU networks (Yang et al. 2019); bands are 95% CIs.")
