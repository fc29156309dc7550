"""weight_decay: the figures (the first is the key figure)."""

from __future__ import annotations

import numpy as np

from ... import figures


def arm_label(row: dict) -> str:
    return (f"exp LR (stands for wd {row['wd']:g})" if row["arm"] == "exp_lr"
            else f"wd {row['wd']:g}")


def _bars(ax, rows, key, log=False):
    x = np.arange(len(rows))
    mean = np.array([np.nan if r[key] is None else r[key] for r in rows], dtype=float)
    lo = np.array([np.nan if r[f"{key}_ci95"][0] is None else r[f"{key}_ci95"][0]
                   for r in rows], dtype=float)
    hi = np.array([np.nan if r[f"{key}_ci95"][1] is None else r[f"{key}_ci95"][1]
                   for r in rows], dtype=float)
    ax.bar(x, mean, 0.7, color=[figures.colour(i) for i in range(len(rows))],
           yerr=np.vstack([mean - lo, hi - mean]), error_kw={"linewidth": 0.8})
    ax.set_xticks(x)
    ax.set_xticklabels([arm_label(r) for r in rows], rotation=20, ha="right", fontsize=7)
    if log:
        ax.set_yscale("log")


def figure_norms(ctx, rows):
    fig, axes = figures.subplots(ncols=2, height=3.4)
    _bars(axes[0, 0], rows, "w_norm_end")
    axes[0, 0].set_ylabel("||w|| at the end")
    axes[0, 0].set_title("Norm of the weights feeding batch norm")
    start = np.nanmean([r["w_norm_start"] for r in rows if r["w_norm_start"] is not None])
    axes[0, 0].axhline(start, color="grey", linewidth=0.8, linestyle=":")
    _bars(axes[0, 1], rows, "effective_lr_end", log=True)
    axes[0, 1].set_ylabel("lr / ||w||^2 at the end")
    axes[0, 1].set_title("Effective learning rate")
    return figures.save(fig, ctx, "weight_norm_and_effective_lr",
                        "Norm of the weights feeding each batch norm at the end of training "
                        "(mean over layers; dotted: the start) and the effective learning rate "
                        "lr / ||w||^2, per arm; error bars are 95% CIs over seeds.")


def figure_angles(ctx, rows):
    shown = [r for r in rows if r["wd"] > 0]
    if not shown:
        return None
    fig, axes = figures.subplots(ncols=2, height=3.4)
    _bars(axes[0, 0], shown, "angular_step_end")
    x = np.arange(len(shown))
    axes[0, 0].scatter(x, [r["predicted_angular_step"] for r in shown], color="black",
                       marker="_", s=300, zorder=3, label="sqrt(2 lr wd)")
    axes[0, 0].set_ylabel("radians per step")
    axes[0, 0].set_title("Angular step, measured and predicted")
    axes[0, 0].legend(fontsize=7)
    _bars(axes[0, 1], rows, "test_acc")
    axes[0, 1].set_ylabel("test accuracy")
    axes[0, 1].set_title("Test accuracy")
    return figures.save(fig, ctx, "angular_step_and_accuracy",
                        "Left: the angle between successive weight matrices over the last "
                        "steps (bars, 95% CI over seeds) against Li & Arora's equilibrium "
                        "sqrt(2 lr wd) (black marks). Right: test accuracy per arm.")
