"""learning_rate: the figures (the first is the key figure)."""

from __future__ import annotations

from ... import figures
from ...stats import mean_ci
from .spec import LABELS, OPTIMIZER_NAMES


def _stats(cells, arm, opt, lrs, metric):
    est = [mean_ci(cells.get(arm=arm, optimizer=opt, lr=lr).values[metric]) for lr in lrs]
    return [e.mean for e in est], [e.lo for e in est], [e.hi for e in est]


def figure_sweep(ctx, cells, arms, opt, lrs):
    fig, axes = figures.subplots(ncols=2, height=3.6)
    left, right = axes[0]
    for i, arm in enumerate(arms):
        mean, lo, hi = _stats(cells, arm, opt, lrs, "final_train_loss")
        figures.band(left, lrs, mean, lo, hi, LABELS[arm], i)
        figures.band(right, lrs, *_stats(cells, arm, opt, lrs, "test_acc"), LABELS[arm], i,
                     clip=(0, 1))
        limit = cells.get(arm=arm, optimizer=opt, lr=None).extra["max_stable_lr"]
        if limit is not None:
            for ax in (left, right):
                ax.axvline(limit, color=figures.colour(i), linestyle=":", linewidth=1)
    start = mean_ci(cells.get(arm=arms[0], optimizer=opt, lr=lrs[0]).values["start_train_loss"])
    left.axhline(start.mean, color="grey", linewidth=0.8, label="loss at initialisation")
    figures.plain_log(left, "x")
    figures.plain_log(right, "x")
    left.set_ylabel("final training loss (missing: diverged)")
    right.set_ylabel("test accuracy (diverged = chance)")
    for ax in (left, right):
        ax.set_xlabel("learning rate")
    left.set_title(f"{OPTIMIZER_NAMES[opt]}, fixed steps")
    right.set_title("dotted: largest stable rate")
    figures.legend_below(left)
    return figures.save(fig, ctx, f"lr_sweep_{opt}",
                        f"Final training loss and test accuracy against the learning rate "
                        f"({OPTIMIZER_NAMES[opt]}), mean and 95% CI over seeds; the dotted "
                        f"lines mark each arm's largest rate at which every seed was stable.")


def figure_stability(ctx, cells, arms, optimizers, lrs):
    fig, axes = figures.subplots(ncols=len(optimizers), height=3.2, sharey=True)
    for ax, opt in zip(axes[0], optimizers, strict=True):
        for i, arm in enumerate(arms):
            frac = [float(cells.get(arm=arm, optimizer=opt, lr=lr).values["stable"].mean())
                    for lr in lrs]
            ax.plot(lrs, frac, marker="o", markersize=3.5, color=figures.colour(i),
                    label=LABELS[arm])
        figures.plain_log(ax, "x")
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("learning rate")
        ax.set_title(OPTIMIZER_NAMES[opt])
    axes[0, 0].set_ylabel("fraction of seeds stable")
    figures.legend_below(axes[0, 0])
    return figures.save(fig, ctx, "stable_fraction",
                        "Fraction of seeds whose loss stayed finite and ended below its value "
                        "at initialisation, at each learning rate.")
