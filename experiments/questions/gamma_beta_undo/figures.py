"""gamma_beta_undo: the figures (the first, the undo distance over training, is the key one)."""

from __future__ import annotations

import math

import numpy as np

from ... import figures
from ...runner import Cells
from ...stats import mean_ci
from .spec import AFFINE, ARMS, PER_STEPS, SHORT, UNDO_TOLERANCE

DISTANCE = "|log(|gamma|/sigma_B)| + |beta - mu_B|/sigma_B"
GAMMA_FLOOR = 0.01  # |gamma| below this is drawn at it, so a log axis can show it


def band_over(ax, x, series: np.ndarray, label: str, index: int, log: bool = False,
              **kw) -> None:
    """series (T, seeds): mean line and 95% CI band over seeds. With `log`, the geometric
    mean and a CI computed on the log values, so the band stays positive on a log axis."""
    if log:
        with np.errstate(invalid="ignore", divide="ignore"):
            stats = [mean_ci(np.log(row)) for row in series]
        mean, lo, hi = (np.exp([getattr(s, k) for s in stats]) for k in ("mean", "lo", "hi"))
    else:
        stats = [mean_ci(row) for row in series]
        mean, lo, hi = ([getattr(s, k) for s in stats] for k in ("mean", "lo", "hi"))
    figures.band(ax, x, mean, lo, hi, label, index, **kw)


def figure_undo_distance(ctx, curves, steps, arms, main):
    fig, axes = figures.subplots()
    ax = axes[0, 0]
    for arm in (a for a in arms if a in AFFINE):
        idx = ARMS.index(arm)
        c = curves[(arm, main)]
        band_over(ax, steps, c["undo_distance"].mean(-1), f"{SHORT[arm]}: trained", idx,
                  log=True)
        band_over(ax, steps, c["undo_distance_frozen"].mean(-1),
                  f"{SHORT[arm]}: gamma, beta left at start", idx, log=True, linestyle=":",
                  marker="")
    ax.axhline(UNDO_TOLERANCE, color="grey", linewidth=0.8)
    figures.plain_log(ax, "y")
    ax.set_xlabel("training step")
    ax.set_ylabel("undo distance (median over units)")
    ax.set_title("How far units are from undoing the norm (0 = undone)")
    ax.legend(fontsize=7)
    return figures.save(fig, ctx, "undo_distance",
                        f"Undo distance {DISTANCE}, median over units and mean over layers, "
                        "with the trained gamma and beta (solid) and with the same batch "
                        "statistics but gamma and beta left at their start (dotted): the gap "
                        "between the two is what gamma and beta did themselves. Grey line: "
                        f"{UNDO_TOLERANCE}, counted as undone. {main.upper()}; geometric mean "
                        "and 95% CI over seeds.")


def figure_gamma_sigma(ctx, units, arms, depth):
    shown = [a for a in arms if a in AFFINE]
    fig, axes = figures.subplots(ncols=depth, height=2.8, sharey=True)
    for i in range(depth):
        ax = axes[0, i]
        lo, hi = math.inf, 0.0
        for arm in shown:
            idx = ARMS.index(arm)
            for when in ("start", "end"):
                sigma = units[arm][f"{i}.sigma_B.{when}"]
                gamma = np.clip(np.abs(units[arm][f"{i}.gamma.{when}"]), GAMMA_FLOOR, None)
                filled = when == "end"
                ax.scatter(sigma, gamma, s=6, alpha=0.5 if filled else 0.35,
                           color=figures.colour(idx) if filled else "none",
                           edgecolors=figures.colour(idx), linewidths=0.5,
                           label=f"{SHORT[arm]} {when}" if i == 0 else None)
                finite = np.concatenate([sigma[np.isfinite(sigma)], gamma[np.isfinite(gamma)]])
                if finite.size:
                    lo, hi = min(lo, finite.min()), max(hi, finite.max())
        if hi > 0:
            line = np.array([max(lo, GAMMA_FLOOR), hi])
            ax.plot(line, line, color="black", linewidth=0.8, linestyle="--",
                    label="undo: |gamma| = sigma_B" if i == 0 else None)
        figures.plain_log(ax)
        ax.set_xlabel(f"sigma_B, layer {i}")
    axes[0, 0].set_ylabel("|gamma|")
    axes[0, 0].legend(fontsize=6, loc="upper left")
    fig.suptitle("Each unit's gamma against the batch std it normalizes (hollow: start, "
                 "filled: end)", fontsize=9)
    return figures.save(fig, ctx, "gamma_vs_sigma",
                        "Per unit, |gamma| against the std sigma_B of the pre-norm activations "
                        "at the start (hollow) and end (filled) of training, all seeds; the "
                        "dashed line is the scale part of the undo point, |gamma| = sigma_B. "
                        f"|gamma| is clipped below at {GAMMA_FLOOR:g}.")


def figure_input_shift(ctx, curves, steps, arms, main, depth):
    fig, axes = figures.subplots(ncols=depth, height=2.8, sharey=True)
    mid = (np.asarray(steps[:-1]) + np.asarray(steps[1:])) / 2
    for i in range(depth):
        ax = axes[0, i]
        for arm in arms:
            band_over(ax, mid, curves[(arm, main)]["input_shift"][:, :, i], SHORT[arm],
                      ARMS.index(arm), log=True)
        figures.plain_log(ax, "y")
        ax.set_xlabel(f"step, layer {i}")
    axes[0, 0].set_ylabel(f"movement per {PER_STEPS} steps")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("How fast the distribution each nonlinearity sees moves", fontsize=9)
    return figures.save(fig, ctx, "input_shift",
                        "Per layer, the median over units of |change of the unit's mean| / its "
                        "std plus |change of log std| between probe points, per "
                        f"{PER_STEPS} steps, on the fixed probe batch in train mode; "
                        f"{main.upper()}, geometric mean and 95% CI over seeds.")


def figure_drift(ctx, curves, steps, arms, optimizers):
    fig, axes = figures.subplots(ncols=2)
    for k, opt in enumerate(optimizers):
        style = {"linestyle": "-", "marker": "."} if k == 0 else {"linestyle": "--",
                                                                  "marker": ""}
        for arm in arms:
            c = curves[(arm, opt)]
            label = SHORT[arm] + ("" if len(optimizers) == 1 else f" ({opt})")
            band_over(axes[0, 0], steps, c["bias_norm_total"], label, ARMS.index(arm), **style)
            band_over(axes[0, 1], steps, c["weight_norm_total"], label, ARMS.index(arm),
                      **style)
    axes[0, 0].set_ylabel("sum over layers of ||b||")
    axes[0, 0].set_title("Biases feeding the norms")
    axes[0, 1].set_ylabel("sum over layers of ||W||")
    axes[0, 1].set_title("Weights feeding the norms")
    for ax in axes[0]:
        ax.set_xlabel("training step")
    axes[0, 0].legend(fontsize=7)
    others = ", ".join(o.upper() for o in optimizers[1:])
    return figures.save(fig, ctx, "drift",
                        "Norms of the biases and weights of the layers that feed each norm, "
                        "summed over layers, during training; arithmetic mean and 95% CI over "
                        "seeds" + (f" (dashed: {others})" if others else "") + ".")


def _ics_bars(ax, cells: Cells, arms, main, depth, key: str) -> None:
    layers = list(range(1, depth))
    width = 0.8 / len(arms)
    # The cosine is shown as 1 - cos, so that small differences near 1 are visible.
    sign, offset = (-1, 1) if key == "ics_cosine" else (1, 0)
    for j, arm in enumerate(arms):
        est = [mean_ci(offset + sign * cells.get(arm=arm, optimizer=main, layer=i).values[key])
               for i in layers]
        x = np.array(layers) + (j - (len(arms) - 1) / 2) * width
        ax.bar(x, [e.mean for e in est], width, color=figures.colour(ARMS.index(arm)),
               label=SHORT[arm],
               yerr=np.array([[e.mean - e.lo for e in est], [e.hi - e.mean for e in est]]),
               error_kw={"linewidth": 0.8})
    ax.set_xticks(layers)
    ax.set_xlabel("layer")


def figure_ics_landscape(ctx, cells: Cells, curves, steps, arms, main, depth):
    fig, axes = figures.subplots(ncols=2, nrows=2, height=2.8)
    _ics_bars(axes[0, 0], cells, arms, main, depth, "ics_l2")
    _ics_bars(axes[0, 1], cells, arms, main, depth, "ics_cosine")
    for arm in arms:
        c = curves[(arm, main)]
        band_over(axes[1, 0], steps, c["loss_variation"], SHORT[arm], ARMS.index(arm), log=True)
        band_over(axes[1, 1], steps, c["beta_smoothness"], SHORT[arm], ARMS.index(arm),
                  log=True)
    axes[0, 0].set_ylabel("||G - G'||")
    axes[0, 0].set_title("Internal covariate shift (l2)")
    axes[0, 1].set_ylabel("1 - cos(G, G')")
    axes[0, 1].set_title("Internal covariate shift (1 - cosine)")
    axes[1, 0].set_ylabel("max - min loss along gradient")
    axes[1, 0].set_title("Loss variation")
    axes[1, 1].set_ylabel("max ||grad change|| / distance")
    axes[1, 1].set_title("Effective beta-smoothness")
    for ax in axes[1]:
        ax.set_xlabel("training step")
        figures.plain_log(ax, "y")
    axes[0, 0].legend(fontsize=6, loc="upper left")
    return figures.save(fig, ctx, "ics_landscape",
                        "Santurkar et al.'s probes on the training batch: internal covariate "
                        "shift per layer (top; arithmetic mean over training and seeds, 95% CI "
                        "over seeds) and the loss and gradient along the gradient direction "
                        f"over training (bottom; geometric mean and 95% CI over seeds); "
                        f"{main.upper()}.")
