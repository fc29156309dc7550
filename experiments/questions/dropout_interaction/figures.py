"""dropout_interaction: the figures (the first is the key figure)."""

from __future__ import annotations

import numpy as np

from ... import figures
from .spec import LABELS, PLACEMENTS


def _series(rows, placement, width, key):
    pts = sorted((r["p"], r[key], *r[f"{key}_ci95"]) for r in rows
                 if r["width"] == width and r["placement"] in (placement, "none")
                 and r.get(key) is not None)
    arr = np.array([[np.nan if v is None else v for v in t] for t in pts], dtype=float)
    return arr.T if len(arr) else np.empty((4, 0))


def _by_rate(ctx, rows, key, ylabel, name, caption, clip=None, reference=None):
    widths = sorted({r["width"] for r in rows})
    fig, axes = figures.subplots(ncols=len(widths), height=3.4, sharey=True)
    for ax, width in zip(axes[0], widths, strict=True):
        for i, placement in enumerate(PLACEMENTS):
            x, mean, lo, hi = _series(rows, placement, width, key)
            if x.size:
                figures.band(ax, x, mean, lo, hi, LABELS[placement], i, clip=clip)
        if reference is not None:
            xs = np.linspace(0, max(r["p"] for r in rows), 50)
            ax.plot(xs, reference(xs), color="black", linewidth=0.8, linestyle=":",
                    label="1 / (1 - p)")
        ax.set_xlabel("dropout rate p")
        ax.set_title(f"width {width}")
    axes[0, 0].set_ylabel(ylabel)
    figures.legend_below(axes[0, 0], ncol=3)
    return figures.save(fig, ctx, name, caption)


def figure_accuracy(ctx, rows):
    return _by_rate(ctx, rows, "test_acc", "test accuracy (eval mode)", "accuracy_vs_rate",
                    "Eval-mode test accuracy against the dropout rate, dropout before each "
                    "batch norm or only before the classifier; p = 0 is the network without "
                    "dropout. Bands are 95% CIs over seeds.", clip=(0, 1))


def figure_variance(ctx, rows):
    shown = [r for r in rows if r["placement"] in ("before_bn", "none")]
    return _by_rate(ctx, shown, "var_ratio", "running / test-time variance",
                    "variance_shift",
                    "For the first batch norm after a dropout: its running variance over the "
                    "variance of its input at test time (median over units), against Li et "
                    "al.'s 1 / (1 - p) (dotted); 95% CIs over seeds.",
                    reference=lambda p: 1 / (1 - p))
