"""One figure style for every question type: PNGs for a 690 px forum column at 2x.

Figures are saved with `save(fig, ctx, name, caption)`, which returns the `Figure` entry for
the result, so a figure can never be listed without its file existing.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure as MplFigure

from .result import Figure, RunContext

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


# Runs make figures on several threads of one process at once (the embedded worker), and
# matplotlib's global state is not thread-safe: pyplot keeps a registry of open figures, and
# rc_context swaps the global settings in and out, so one thread's exit could restore the
# defaults under another's drawing. So the style is set once for the process, and figures are
# made without pyplot: each has its own canvas (Agg when saved) and is never registered.
matplotlib.rcParams.update(STYLE)


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def subplots(ncols: int = 1, nrows: int = 1, height: float = 3.2, **kw):
    fig = MplFigure(figsize=(WIDTH_IN, height * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    for ax in axes.ravel():
        _apply_style(ax)
    return fig, axes


def _apply_style(ax) -> None:
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.grid(True, alpha=0.3)
    ax.tick_params(labelsize=STYLE["xtick.labelsize"])


def band(ax, x: Sequence[float], mean: Sequence[float], lo: Sequence[float],
         hi: Sequence[float], label: str, index: int, marker: str = "o",
         clip: tuple[float, float] | None = None, **kw) -> None:
    """A mean line with its 95% CI as a shaded band; `clip` bounds the band to the values the
    metric can take (accuracies: 0..1), since a t-interval from few seeds may overshoot."""
    c = colour(index)
    ax.plot(x, mean, marker=marker, markersize=3.5, color=c, label=label, **kw)
    if clip is not None:
        lo, hi = np.clip(lo, *clip), np.clip(hi, *clip)
    ax.fill_between(x, lo, hi, color=c, alpha=0.15, linewidth=0)


def save(fig, ctx: RunContext, name: str, caption: str) -> Figure:
    # Leave room at the bottom for a figure legend placed by legend_below().
    fig.tight_layout(rect=(0, getattr(fig, "legend_space", 0.0), 1, 1))
    file = f"{name}.png"
    fig.savefig(ctx.out_dir / file, dpi=DPI, facecolor="white")
    return Figure(name=name, file=file, caption=caption)


def batch_axis(ax, sizes: Sequence[int]) -> None:
    """Log2 x-axis ticked at the batch sizes themselves (4, 16, 128 rather than 2^k)."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(sizes))
    ax.set_xticklabels([str(s) for s in sizes])
    ax.minorticks_off()


def legend_below(ax, ncol: int = 3) -> None:
    """One legend for the figure, under the axes, so it never hides a line or a band."""
    fig = ax.figure
    handles, labels = ax.get_legend_handles_labels()
    rows = -(-len(labels) // ncol)
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False,
               fontsize=STYLE["legend.fontsize"])
    fig.legend_space = min(0.45, (0.08 + 0.06 * rows) * 3.2 / fig.get_figheight())


def plain_log(ax, axis: str = "both") -> None:
    """Log scale with plain numbers (0.5, 1, 2) on major ticks and unlabelled minor ticks, so
    tick labels never run into each other."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    plain = FuncFormatter(lambda v, _: f"{v:g}")
    for name in ("x", "y") if axis == "both" else (axis,):
        getattr(ax, f"set_{name}scale")("log")
        target = getattr(ax, f"{name}axis")
        target.set_major_formatter(plain)
        target.set_minor_formatter(NullFormatter())
