"""train_eval_gap: the figures (the first is the key figure)."""

from __future__ import annotations

import numpy as np

from ... import figures
from .spec import LABELS

MODES = (("eval_acc", "eval mode (running averages)"),
         ("train_mode_acc", "train mode (test batch statistics)"),
         ("precise_acc", "eval mode after PreciseBN"))


def _label(row: dict) -> str:
    if row["condition"] == "momentum":
        return f"momentum {row['momentum']:g}"
    return LABELS.get(row["condition"], row["condition"])


def figure_modes(ctx, rows):
    shown = [r for r in rows if r["condition"] != "finetune_twin"]
    fig, axes = figures.subplots(height=3.6)
    ax = axes[0, 0]
    x = np.arange(len(shown))
    width = 0.8 / len(MODES)
    for j, (key, name) in enumerate(MODES):
        mean = np.array([r[key] if r[key] is not None else np.nan for r in shown], dtype=float)
        lo = np.array([r[f"{key}_ci95"][0] or np.nan for r in shown], dtype=float)
        hi = np.array([r[f"{key}_ci95"][1] or np.nan for r in shown], dtype=float)
        ax.bar(x + (j - 1) * width, mean, width, color=figures.colour(j), label=name,
               yerr=np.vstack([mean - lo, hi - mean]), error_kw={"linewidth": 0.8})
    ax.set_xticks(x)
    ax.set_xticklabels([_label(r) for r in shown], rotation=20, ha="right", fontsize=7)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title("Eval mode, train mode and PreciseBN per condition")
    figures.legend_below(ax, ncol=3)
    return figures.save(fig, ctx, "accuracy_by_mode",
                        "Test accuracy per condition with the running averages (eval mode), "
                        "with the statistics of shuffled test batches (train mode), and after "
                        "recomputing the averages on the training set (PreciseBN); error bars "
                        "are 95% CIs over seeds. The fine-tune rows are on the shifted test set.")


def figure_momentum(ctx, rows):
    sweep = sorted((r for r in rows if r["condition"] in ("momentum", "iid")),
                   key=lambda r: r["momentum"])
    if len(sweep) < 2:
        return None
    fig, axes = figures.subplots(ncols=2, height=3.2)
    m = [r["momentum"] for r in sweep]
    for j, (key, name) in enumerate(MODES[:2]):
        figures.band(axes[0, 0], m, [r[key] for r in sweep],
                     [r[f"{key}_ci95"][0] for r in sweep], [r[f"{key}_ci95"][1] for r in sweep],
                     name, j, clip=(0, 1))
    figures.band(axes[0, 1], m, [r["stat_ratio"] for r in sweep],
                 [r["stat_ratio_ci95"][0] for r in sweep],
                 [r["stat_ratio_ci95"][1] for r in sweep], "running / recomputed variance", 2)
    for ax in axes[0]:
        ax.set_xscale("log")
        ax.set_xlabel("running-average momentum")
    axes[0, 0].set_ylabel("test accuracy")
    axes[0, 1].set_ylabel("variance ratio (1 = accurate)")
    axes[0, 1].axhline(1.0, color="grey", linewidth=0.8)
    figures.legend_below(axes[0, 0], ncol=1)
    return figures.save(fig, ctx, "momentum_sweep",
                        "Eval- and train-mode test accuracy (left) and the running variance "
                        "over the variance recomputed on the training set (right, median over "
                        "units) against the running-average momentum; 95% CIs over seeds.")
