"""activation_order: the figures (the first is the key figure)."""

from __future__ import annotations

import numpy as np

from ... import figures
from ...stats import mean_ci, paired_diff
from .spec import LABELS, MODEL_NAMES


def _series(cells, arm, model, lrs, metric="test_acc"):
    stats = [mean_ci(cells.get(arm=arm, model=model, lr=lr).values[metric]) for lr in lrs]
    return ([s.mean for s in stats], [s.lo for s in stats], [s.hi for s in stats])


def figure_accuracy(ctx, cells, arms, models, lrs):
    fig, axes = figures.subplots(ncols=len(models), height=3.6, sharey=True)
    for ax, model in zip(axes[0], models, strict=True):
        for i, arm in enumerate(arms):
            if cells.has(arm=arm, model=model):
                figures.band(ax, lrs, *_series(cells, arm, model, lrs), LABELS[arm], i,
                             clip=(0, 1))
        figures.plain_log(ax, "x")
        ax.set_xticks(lrs)
        ax.set_title(MODEL_NAMES[model].removeprefix("the "))
        ax.set_xlabel("learning rate")
    axes[0, 0].set_ylabel("test accuracy (eval mode)")
    figures.legend_below(axes[0, 0])
    return figures.save(fig, ctx, "accuracy_by_order",
                        "Test accuracy for each order of batch norm and ReLU at each learning "
                        "rate; bands are 95% confidence intervals over seeds.")


def figure_difference(ctx, cells, models, lrs):
    fig, axes = figures.subplots(height=3.4)
    ax = axes[0, 0]
    x = np.arange(len(lrs), dtype=float)
    for i, model in enumerate(models):
        if not (cells.has(arm="bn_before_act", model=model)
                and cells.has(arm="bn_after_act", model=model)):
            continue
        est = [paired_diff(cells.get(arm="bn_before_act", model=model, lr=lr).values["test_acc"],
                           cells.get(arm="bn_after_act", model=model, lr=lr).values["test_acc"])
               for lr in lrs]
        shift = (i - (len(models) - 1) / 2) * 0.12
        ax.errorbar(x + shift, [e.mean for e in est],
                    yerr=[[e.mean - e.lo for e in est], [e.hi - e.mean for e in est]],
                    fmt="o", capsize=3, color=figures.colour(i),
                    label=MODEL_NAMES[model].removeprefix("the "))
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{lr:g}" for lr in lrs])
    ax.set_xlabel("learning rate")
    ax.set_ylabel("before − after (test accuracy)")
    ax.set_title("Paired difference, BN before ReLU minus BN after, with 95% CI")
    figures.legend_below(ax)
    return figures.save(fig, ctx, "before_minus_after",
                        "Test accuracy of batch norm before ReLU minus after, paired by seed; "
                        "an interval that crosses zero is no reliable difference.")


def figure_layer_inputs(ctx, layer_inputs, arms, model, lr):
    fig, axes = figures.subplots(ncols=2, height=3.4)
    for k, (ax, name) in enumerate(zip(axes[0], ("mean", "standard deviation"), strict=True)):
        for i, arm in enumerate(arms):
            stats = layer_inputs.get((arm, model, lr))
            if stats is None:
                continue
            per_layer = [mean_ci(stats[:, j, k]) for j in range(stats.shape[1])]
            layers = np.arange(2, stats.shape[1] + 2)
            figures.band(ax, layers, [s.mean for s in per_layer], [s.lo for s in per_layer],
                         [s.hi for s in per_layer], LABELS[arm], i)
        ax.set_xticks(layers)
        ax.set_xlabel("layer receiving the input (last = classifier)")
        ax.set_title(f"{name} of the layer's input")
    figures.legend_below(axes[0, 0])
    return figures.save(fig, ctx, "layer_inputs",
                        f"Mean and standard deviation of what each layer after the first "
                        f"receives, at the end of training ({MODEL_NAMES[model]}, learning rate "
                        f"{lr:g}); with batch norm after ReLU it is normalized, before ReLU it is "
                        f"a non-negative ReLU output.")
