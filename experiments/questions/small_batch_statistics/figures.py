"""small_batch_statistics: the figures (the first is the key figure)."""

from __future__ import annotations

import numpy as np

from ... import figures
from ...stats import mean_ci
from .spec import LABELS


def _series(rows, arm, key):
    pts = sorted((r["batch_size"], r[key], *r[f"{key}_ci95"]) for r in rows
                 if r["arm"] == arm and r.get(key) is not None)
    arr = np.array([[np.nan if v is None else v for v in t] for t in pts], dtype=float)
    return arr.T if len(arr) else np.empty((4, 0))


def figure_accuracy(ctx, rows, arms):
    fig, axes = figures.subplots(height=3.8)
    ax = axes[0, 0]
    shown = [*arms, "precise_bn"] if "batchnorm" in arms else list(arms)
    for i, arm in enumerate(shown):
        x, mean, lo, hi = _series(rows, arm, "test_acc")
        figures.band(ax, x, mean, lo, hi, LABELS[arm], i, clip=(0, 1),
                     linestyle="--" if arm == "precise_bn" else "-")
    figures.batch_axis(ax, sorted({r["batch_size"] for r in rows}))
    floor = ctx.params["min_steps"]
    lifted = floor > 0 and any(r.get("steps") == floor for r in rows)  # min_steps took effect
    ax.set_xlabel(f"batch size (epochs matched, at least {floor:,} steps)" if lifted
                  else "batch size (epochs matched)")
    ax.set_ylabel("test accuracy (eval mode)")
    ax.set_title("Test accuracy against batch size, mean and 95% CI over seeds")
    figures.legend_below(ax)
    return figures.save(fig, ctx, "accuracy_vs_batch_size",
                        "Eval-mode test accuracy by batch size for each normalization; "
                        "bands are 95% confidence intervals over seeds.")


# Arms whose training forward uses batch statistics; for the others eval and train mode agree.
BATCH_STAT_ARMS = ("batchnorm", "batch_renorm")


def figure_eval_vs_train(ctx, rows, arms):
    shown = [a for a in BATCH_STAT_ARMS if a in arms] or list(arms[:1])
    fig, axes = figures.subplots(ncols=len(shown), height=3.4, sharey=True)
    sizes = sorted({r["batch_size"] for r in rows})
    for ax, arm in zip(axes[0], shown, strict=True):
        for j, (key, mode) in enumerate((("test_acc", "eval mode (running statistics)"),
                                         ("train_mode_test_acc",
                                          "train mode (batch statistics)"))):
            x, mean, lo, hi = _series(rows, arm, key)
            figures.band(ax, x, mean, lo, hi, mode, j, clip=(0, 1),
                         linestyle="-" if j == 0 else ":")
        figures.batch_axis(ax, sizes)
        ax.set_title(LABELS[arm])
        ax.set_xlabel("batch size")
    axes[0, 0].set_ylabel("test accuracy")
    figures.legend_below(axes[0, 0], ncol=2)
    return figures.save(fig, ctx, "eval_vs_train_mode",
                        "Test accuracy with running statistics (eval mode) and with the "
                        "statistics of test batches of the training size (train mode), for "
                        "the arms that normalize with batch statistics in training; the "
                        "others use the same statistics in both modes.")


def figure_curves(ctx, curves, arms, batch_size):
    fig, axes = figures.subplots(height=3.8)
    ax = axes[0, 0]
    for i, arm in enumerate(arms):
        steps, acc = curves[(arm, batch_size)]
        stats = [mean_ci(a) for a in acc]
        figures.band(ax, steps, [s.mean for s in stats], [s.lo for s in stats],
                     [s.hi for s in stats], LABELS[arm], i, marker=".", clip=(0, 1))
    ax.set_xlabel("training step")
    ax.set_ylabel("test accuracy (eval mode)")
    ax.set_title(f"Learning curves at the smallest batch size ({batch_size})")
    figures.legend_below(ax)
    return figures.save(fig, ctx, "learning_curves_smallest_batch",
                        f"Eval-mode test accuracy during training at batch size {batch_size}.")
