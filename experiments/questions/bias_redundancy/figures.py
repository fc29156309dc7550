"""bias_redundancy: the figures (the first is the key figure)."""

from __future__ import annotations

import numpy as np

from ... import figures
from .spec import LABELS, OPTIMIZER_NAMES

PAIR_LABELS = {"bn": "batch norm: with minus without bias",
               "no_norm": "no normalization: with minus without bias"}


def _median_band(ax, steps, values, label, index):
    """Median over seeds with the min-max range: these span orders of magnitude."""
    v = np.asarray(values, float)  # (points, seeds)
    with np.errstate(all="ignore"):
        figures.band(ax, steps, np.nanmedian(v, 1), np.nanmin(v, 1), np.nanmax(v, 1), label,
                     index, marker=".")


def figure_loss_diff(ctx, loss_diffs, optimizers):
    fig, axes = figures.subplots(ncols=len(optimizers), height=3.4, sharey=True)
    for ax, opt in zip(axes[0], optimizers, strict=True):
        for i, pair in enumerate(PAIR_LABELS):
            if (pair, opt) in loss_diffs:
                _median_band(ax, *loss_diffs[(pair, opt)], PAIR_LABELS[pair], i)
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_title(OPTIMIZER_NAMES[opt])
    axes[0, 0].set_ylabel("|training loss difference|")
    figures.legend_below(axes[0, 0], ncol=2)
    return figures.save(fig, ctx, "loss_difference",
                        "Absolute difference of the training loss between otherwise identical "
                        "runs with and without the bias before each norm; median over seeds, "
                        "band from the smallest to the largest seed.")


def figure_grad_ratio(ctx, grad_ratios, optimizers):
    fig, axes = figures.subplots(ncols=len(optimizers), height=3.4, sharey=True)
    for ax, opt in zip(axes[0], optimizers, strict=True):
        for i, arm in enumerate(("bn_bias", "no_norm_bias")):
            if (arm, opt) in grad_ratios:
                _median_band(ax, *grad_ratios[(arm, opt)], LABELS[arm], i)
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_title(OPTIMIZER_NAMES[opt])
    axes[0, 0].set_ylabel("||dL/db|| / ||dL/dW|| (worst layer)")
    figures.legend_below(axes[0, 0], ncol=2)
    return figures.save(fig, ctx, "bias_gradient_ratio",
                        "Norm of the bias gradient over the norm of the weight gradient of the "
                        "same layer (the largest over layers), on the training batch at each "
                        "evaluation point; median and range over seeds.")
