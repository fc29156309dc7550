"""One figure style for every question type: Agg backend, PNGs for a 690 px forum column at 2x.

Figures are saved with `save(fig, ctx, name, caption)`, which returns the `Figure` entry for
the result, so a figure can never be listed without its file existing.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display anywhere: CLI, workers, tests

import matplotlib.pyplot as plt  # noqa: E402

from .result import Figure, RunContext  # noqa: E402

WIDTH_IN = 6.9  # 690 px at 100 dpi; saved at 200 dpi -> 1380 px, crisp on 2x screens
DPI = 200

# Colour-blind-safe palette (Okabe & Ito); arms keep their colour across figures.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
           "#000000")

STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.6,
    "figure.dpi": 100,
}


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def subplots(ncols: int = 1, nrows: int = 1, height: float = 3.2, **kw):
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(WIDTH_IN, height * nrows),
                                 squeeze=False, **kw)
    for ax in axes.ravel():
        _apply_style(ax)
    return fig, axes


def _apply_style(ax) -> None:
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.grid(True, alpha=0.3)
    ax.tick_params(labelsize=STYLE["xtick.labelsize"])


def band(ax, x: Sequence[float], mean: Sequence[float], lo: Sequence[float],
         hi: Sequence[float], label: str, index: int, marker: str = "o", **kw) -> None:
    """A mean line with its 95% CI as a shaded band."""
    c = colour(index)
    ax.plot(x, mean, marker=marker, markersize=3.5, color=c, label=label, **kw)
    ax.fill_between(x, lo, hi, color=c, alpha=0.18, linewidth=0)


def save(fig, ctx: RunContext, name: str, caption: str) -> Figure:
    with plt.rc_context(STYLE):
        fig.tight_layout()
        file = f"{name}.png"
        fig.savefig(ctx.out_dir / file, dpi=DPI, facecolor="white")
    plt.close(fig)
    return Figure(name=name, file=file, caption=caption)
