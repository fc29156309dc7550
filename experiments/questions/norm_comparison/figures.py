"""norm_comparison: the figures (the first is the key figure)."""

from __future__ import annotations

import numpy as np

from ... import figures
from .spec import ARMS, LABELS, MODEL_NAMES


def _series(rows: list[dict], arm: str, model: str, key: str) -> np.ndarray:
    pts = sorted((r["batch_size"], r[key], *r[f"{key}_ci95"]) for r in rows
                 if r["arm"] == arm and r["model"] == model and r.get(key) is not None)
    arr = np.array([[np.nan if v is None else v for v in t] for t in pts], dtype=float)
    return arr.T if len(arr) else np.empty((4, 0))


def _by_batch(ctx, rows, models, key, ylabel, name, caption, clip=None):
    fig, axes = figures.subplots(ncols=len(models), height=3.4, sharey=True)
    sizes = sorted({r["batch_size"] for r in rows})
    for ax, model in zip(axes[0], models, strict=True):
        for arm in ARMS:
            x, mean, lo, hi = _series(rows, arm, model, key)
            if x.size:
                figures.band(ax, x, mean, lo, hi, LABELS[arm], ARMS.index(arm), clip=clip)
        figures.batch_axis(ax, sizes)
        ax.set_xlabel("batch size (epochs matched)")
        ax.set_title(MODEL_NAMES[model])
    axes[0, 0].set_ylabel(ylabel)
    # The legend comes from the panel with the most arms: instance norm is not run on the MLP.
    figures.legend_below(max(axes[0], key=lambda ax: len(ax.get_legend_handles_labels()[1])),
                         ncol=3)
    return figures.save(fig, ctx, name, caption)


def figure_accuracy(ctx, rows, models):
    return _by_batch(ctx, rows, models, "test_acc", "test accuracy (eval mode)",
                     "accuracy_vs_batch_size",
                     "Test accuracy of each normalization against the batch size, per "
                     "network; bands are 95% confidence intervals over seeds.", clip=(0, 1))


def figure_train_loss(ctx, rows, models):
    return _by_batch(ctx, rows, models, "train_loss", "training loss at the end",
                     "train_loss_vs_batch_size",
                     "Training loss at the end of training (mean over the last evaluation "
                     "interval) against the batch size; a norm with a lower training loss "
                     "but no better test accuracy fits more and generalizes less.")
