"""covariate_shift_generalization: the figures (the first is the key figure)."""

from __future__ import annotations

import numpy as np

from ... import figures, probes
from .spec import INPUT, Plan

FAMILY = {"noisy_batchnorm": "batchnorm", "noisy_no_norm": "no_norm",
          "input_shift": "batchnorm", "input_augment": "batchnorm",
          "input_shift_no_norm": "no_norm"}  # the arm each family starts from at level 0


def _ci(row: dict, key: str) -> tuple[float, float, float]:
    lo, hi = row.get(f"{key}_ci95") or (None, None)
    mean = row.get(key)
    return tuple(np.nan if v is None else v for v in (mean, lo, hi))


def figure_by_arm(ctx, rows, plan: list[Plan]):
    """Key figure: every cell's clean and shifted test accuracy, with 95% CIs."""
    fig, axes = figures.subplots(height=0.32 * len(rows) + 1.4)
    ax = axes[0, 0]
    y = np.arange(len(rows))[::-1]
    for j, (key, what) in enumerate((("test_acc", "test set"),
                                     ("shifted_test_acc", "test set, each example shifted"))):
        mean, lo, hi = np.array([_ci(r, key) for r in rows], dtype=float).T
        ax.errorbar(mean, y + (0.15 if j == 0 else -0.15), xerr=[mean - lo, hi - mean],
                    fmt="o", markersize=4, color=figures.colour(j), label=what, capsize=2)
    ax.set_yticks(y)
    ax.set_yticklabels([c.label for c in plan])
    ax.set_xlabel("accuracy (eval mode, noise off), mean and 95% CI over seeds")
    ax.set_title("Test accuracy by arm, test set as it is and shifted")
    figures.legend_below(ax, ncol=2)
    return figures.save(fig, ctx, "accuracy_by_arm",
                        "Test accuracy of each arm on the test set and on a copy in which "
                        "every example has its own random scale and shift (the 'coloured "
                        "cats'); bars are 95% confidence intervals over seeds.")


def _series(rows: list[dict], arm: str, key: str, base: str | None = None) -> np.ndarray:
    """(4, n) x, mean, lo, hi over the arm's cells, with its base arm's cell at x = 0."""
    pick = [r for r in rows if r["arm"] == arm or (base is not None and r["arm"] == base)]
    pts = sorted((r["noise"] if r["arm"] == arm else 0.0, *_ci(r, key)) for r in pick
                 if r.get(key) is not None)
    arr = np.array(pts, dtype=float)
    return arr.T if len(arr) else np.empty((4, 0))


def figure_accuracy(ctx, rows, p, n_train_eval: int):
    arms = [a for a in ("noisy_batchnorm", "noisy_no_norm", *INPUT) if a in p["arms"]]
    # A base arm none of whose noisy variants ran is shown on its own, as a point at level 0.
    arms += [a for a in ("batchnorm", "no_norm")
             if a in p["arms"] and not any(FAMILY[f] == a for f in arms)]
    if not arms:
        return None
    fig, axes = figures.subplots(ncols=2, height=3.4, sharey=True)
    for ax, key, what in ((axes[0, 0], "train_acc", "training"),
                          (axes[0, 1], "test_acc", "test")):
        for i, arm in enumerate(arms):
            base = FAMILY.get(arm) if FAMILY.get(arm) in p["arms"] else None
            x, mean, lo, hi = _series(rows, arm, key, base)
            label = Plan(arm).label.replace(" of level 0", "")
            figures.band(ax, x, mean, lo, hi, label, i, clip=(0, 1),
                         linestyle="--" if arm in INPUT else "-")
        ax.set_xlabel("noise level n (0 = the arm without noise)")
        ax.set_title(f"{what.capitalize()} accuracy (eval mode)")
    axes[0, 0].set_ylabel("accuracy")
    figures.legend_below(axes[0, 0], ncol=2)
    return figures.save(fig, ctx, "accuracy_vs_noise",
                        f"Training ({n_train_eval:,} training samples) and test accuracy in "
                        "eval mode, noise off, against the noise level: solid lines shift "
                        "hidden features after the norm, dashed lines shift the inputs; level "
                        "0 is the same network without noise. Bands are 95% CIs over seeds.")


def figure_ghost(ctx, rows, p):
    if "ghost_batchnorm" not in p["arms"] or "batchnorm" not in p["arms"]:
        return None
    fig, axes = figures.subplots(ncols=2, height=3.2)
    b = p["batch_size"]
    pts = sorted((r for r in rows if r["arm"] in ("ghost_batchnorm", "batchnorm")),
                 key=lambda r: r["ghost_size"])
    plain = [r for r in rows if r["arm"] == "no_norm"]
    colour = {"gap": 2, "train_acc": 0, "test_acc": 1}
    for ax, keys in ((axes[0, 0], ("gap",)), (axes[0, 1], ("train_acc", "test_acc"))):
        for key in keys:
            x = [r["ghost_size"] for r in pts]
            mean, lo, hi = np.array([_ci(r, key) for r in pts], dtype=float).T
            what = key.replace("_acc", " accuracy")
            figures.band(ax, x, mean, lo, hi, f"ghost / batch norm, {what}", colour[key],
                         clip=(-1, 1) if key == "gap" else (0, 1))
            if plain and plain[0].get(key) is not None:
                ax.axhline(plain[0][key], color=figures.colour(colour[key]), linestyle=":",
                           linewidth=1, label=f"no norm, {what}")
        figures.batch_axis(ax, sorted({r["ghost_size"] for r in pts}))
        ax.set_xlabel(f"ghost batch size g ({b} = plain BN)")
    figures.legend_below(axes[0, 1], ncol=2)
    axes[0, 0].set_ylabel("train - test accuracy")
    axes[0, 0].set_title("Generalization gap")
    axes[0, 1].set_ylabel("accuracy (eval mode)")
    axes[0, 1].set_title("Training and test accuracy")
    return figures.save(fig, ctx, "gap_vs_ghost_size",
                        "Ghost batch norm: batch statistics over groups of g samples inside "
                        f"each batch of {b}; smaller groups mean noisier statistics. Bands are "
                        "95% CIs over seeds; dotted lines are the network without a norm.")


def figure_activations(ctx, hist, plan: list[Plan], p):
    """What each nonlinearity sees over training, BN against BN with the strongest noise."""
    noisy = [c for c in plan if c.arm == "noisy_batchnorm"]
    shown = [c for c in plan if c.arm == "batchnorm"] + noisy[-1:]
    if not shown:
        return None
    stats = np.stack(hist.probes["activation_stats"])  # (T, M, layers, 5): mean, std, 15/50/85
    depth = stats.shape[2]
    fig, axes = figures.subplots(ncols=depth, height=3.0, sharey=True)
    for layer in range(depth):
        ax = axes[0, layer]
        for k, c in enumerate(shown):
            member = plan.index(c) * p["seeds"]  # the first seed: one network, as trained
            for j in range(len(probes.PERCENTILES)):
                ax.plot(hist.steps, stats[:, member, layer, 2 + j], color=figures.colour(k),
                        linestyle=("--", "-", "--")[j], linewidth=1.2,
                        label=c.label if j == 1 else None)
        quiet = layer == depth - 1 and not p["noise_last_layer"]
        ax.set_title(f"layer {layer + 1}" + (" (no noise)" if quiet else ""))
        ax.set_xlabel("training step")
    lo, mid, hi = probes.PERCENTILES
    axes[0, 0].set_ylabel(f"input to ReLU: {lo}/{mid}/{hi}th pct")
    figures.legend_below(axes[0, 0], ncol=2)
    return figures.save(fig, ctx, "activation_percentiles",
                        f"The {mid}th percentile (solid) and the {lo}th and {hi}th (dashed) of "
                        "what each ReLU "
                        "sees on a fixed set of training samples, in train mode with the noise "
                        "on, for the first seed: plain batch norm against batch norm with the "
                        "strongest noise, whose distribution jumps from step to step.")
