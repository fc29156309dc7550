"""gamma_beta_undo: "if gamma and beta are trained too, why wouldn't backprop just use them to
cancel batch norm?"

Three arms train side by side in one batched MLP, the same seeds in each: batch norm (BN),
BN with the batch statistics detached from the gradient (`batchnorm_detached`, the
"normalization outside the gradient step" of Ioffe & Szegedy 2015, Sec. 2) and no
normalization. The layer before each norm keeps its bias in every arm, so drift can show.
At evaluation points during training the run records, per layer and unit, gamma and beta next
to the batch mean mu_B and std sigma_B that the norm divides out (the undo point is
gamma = sigma_B, beta = mu_B); the norms of the weights and biases feeding each norm; the
per-unit moments of what each nonlinearity sees on a fixed batch (how fast a layer's input
distribution moves, Goodfellow, Bengio & Courville 2016, Sec. 8.7.1); and Santurkar et al.'s
(2018) internal covariate shift and loss-landscape probes (experiments.landscape). SGD is the
main optimizer; Adam can be added as a contrast, one batched model per optimizer.
"""

from __future__ import annotations

import math

import numpy as np

from .. import datasets, figures, landscape, models, probes
from ..catalog import QuestionType, planned_entry
from ..params import Param, Schema, seeds_param
from ..references import cite
from ..result import Result, RunContext, provenance
from ..stats import Estimate, compare, direction, fmt, fmt_ci, mean_ci, metric_cells, paired_diff
from ..trainer import History, ProbeState, TrainConfig, Trainer

ID = "gamma_beta_undo"

ARMS = ("batchnorm", "batchnorm_detached", "no_norm")
NORM_OF = {"batchnorm": "batchnorm", "batchnorm_detached": "batchnorm_detached",
           "no_norm": "none"}
AFFINE = ("batchnorm", "batchnorm_detached")  # arms with gamma and beta
LABELS = {"batchnorm": "batch norm", "batchnorm_detached": "BN, statistics detached",
          "no_norm": "no normalization"}
SHORT = {"batchnorm": "BN", "batchnorm_detached": "detached BN", "no_norm": "no norm"}
OPTIMIZERS = ("sgd", "adam")

# A unit counts as "undone" when its gap |gamma/sigma_B - 1| + |beta - mu_B|/sigma_B is below
# this: scale within 25% of sigma_B and shift within a quarter of a standard deviation.
UNDO_TOLERANCE = 0.25
PER_STEPS = 100  # movement of the input distribution is quoted per this many steps

SCHEMA = Schema(
    params=(
        seeds_param(5),
        Param("arms", "str_list", list(ARMS), "arms to compare", choices=ARMS,
              max_len=len(ARMS)),
        Param("optimizers", "str_list", ["sgd"],
              "optimizers, one batched model each; SGD is the main one (Adam hides the drift)",
              choices=OPTIMIZERS, max_len=len(OPTIMIZERS)),
        Param("width", "int", 100, "hidden units per layer", min=8, max=512),
        Param("depth", "int", 3, "hidden layers, each linear -> norm -> activation",
              min=2, max=6),
        Param("activation", "str", "relu", "nonlinearity", choices=("relu", "sigmoid", "tanh")),
        Param("steps", "int", 3000, "training steps", min=20, max=50000),
        Param("batch_size", "int", 64, "training batch size", min=8, max=512),
        Param("lr", "float", 0.1, "SGD learning rate; also the step of the ICS probe",
              min=1e-4, max=2.0),
        Param("momentum", "float", 0.9, "SGD momentum", min=0.0, max=0.99),
        Param("adam_lr", "float", 1e-3, "Adam learning rate", min=1e-5, max=0.1),
        Param("probe_points", "int", 15, "evaluation points after step 0 (every probe runs)",
              min=2, max=60),
        Param("landscape_steps", "float_list", [0.05, 0.1, 0.2, 0.4, 0.8],
              "step sizes eta of the landscape probe: theta - eta * gradient",
              min=1e-4, max=10.0, max_len=8),
        Param("num_samples", "int", 5000, "MNIST-1D samples (80% train, 20% test)",
              min=500, max=50000),
    ),
    presets={
        "smoke": {"seeds": 2, "steps": 60, "width": 16, "depth": 2, "batch_size": 32,
                  "probe_points": 3, "landscape_steps": [0.1, 0.4], "num_samples": 1000,
                  "optimizers": ["sgd", "adam"]},
        "quick": {"seeds": 5},
        "full": {"seeds": 10, "steps": 6000, "probe_points": 30,
                 "optimizers": ["sgd", "adam"]},
    },
)


class UnitMoments:
    """Per layer and unit: mean and std of what the nonlinearity sees, on the first `n`
    training samples in train mode (batch statistics over groups of the training batch size,
    buffers untouched), so values at different steps are comparable."""

    name = "unit_moments"

    def __init__(self, n: int = 512):
        self.n = n

    def __call__(self, state: ProbeState) -> dict[str, np.ndarray]:
        model = state.model
        out: dict[str, np.ndarray] = {}
        with probes.recording(model):
            probes.forward_recorded(model, *probes.probe_batch(state, self.n))
            for i, block in enumerate(model.blocks):
                z = block.recorded.double()  # (M, N, C)
                out[f"layer{i}.z_mean"] = z.mean(1).cpu().numpy()  # (M, C)
                out[f"layer{i}.z_std"] = z.std(1, correction=0).cpu().numpy()
        return out


def train_optimizer(ctx: RunContext, data: datasets.Dataset, arms: list[str], optimizer: str,
                    done: float, share: float) -> History:
    """Every arm x seed with one optimizer in one batched model."""
    p = ctx.params
    seeds = ctx.seeds()
    member_seeds = seeds * len(arms)  # the same seeds in every arm: paired comparisons
    spec = models.ModelSpec(kind="mlp", width=p["width"], depth=p["depth"],
                            activation=p["activation"], bias=True)
    model = models.build(spec, member_seeds, data.n_features, data.n_classes,
                         arms=[models.Arm(NORM_OF[a], len(seeds)) for a in arms])
    cfg = TrainConfig(batch_size=p["batch_size"], steps=p["steps"], optimizer=optimizer,
                      lr=p["lr"] if optimizer == "sgd" else p["adam_lr"],
                      momentum=p["momentum"], n_evals=p["probe_points"])
    trainer = Trainer(
        model, data, cfg, member_seeds, ctx.device,
        probes=[probes.WeightNorms(), probes.NormStats(), UnitMoments(),
                landscape.InternalCovariateShift(p["lr"]),
                landscape.LossLandscape(p["landscape_steps"])],
        on_progress=lambda f, msg: ctx.progress(done + share * f, f"{optimizer}: {msg}"))
    return trainer.run()


# -- per-member measurements ---------------------------------------------------------------
def _stack(hist: History, key: str) -> np.ndarray:
    return np.stack(hist.probes[key]).astype(float)  # (T, M, ...)


def _median_units(values: np.ndarray) -> np.ndarray:
    """Median over the last (unit) axis, NaN-safe and silent where a member has no values."""
    out = np.full(values.shape[:-1], np.nan)
    has = np.isfinite(values).any(-1)
    out[has] = np.nanmedian(values[has], axis=-1)
    return out


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean over `axis` of the finite values; NaN, without a warning, where there are none."""
    finite = np.isfinite(values)
    count = finite.sum(axis)
    total = np.where(finite, values, 0.0).sum(axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _corr_units(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation across units (last axis) per member; NaN when either is constant."""
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    den = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-12, (a * b).sum(-1) / den, np.nan)


def undo_gap(gamma, beta, mu, sigma) -> np.ndarray:
    """Per unit: how far (gamma, beta) is from undoing the norm, (gamma = sigma_B,
    beta = mu_B); 0 means the layer passes its input through unchanged."""
    sigma = np.maximum(sigma, 1e-12)
    return np.abs(gamma / sigma - 1) + np.abs(beta - mu) / sigma


def _ratio(end: np.ndarray, start: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return end / np.maximum(start, 1e-12)


def analyse(hist: History, depth: int) -> tuple[dict, dict, dict]:
    """Per-member measurements: layer metrics {name: (M, L)}, whole-network metrics
    {name: (M,)} and curves over training {name: (T or T-1, M[, L])}."""
    steps = np.asarray(hist.steps, dtype=float)
    later = steps > 0
    dt = np.diff(steps)[:, None]  # (T-1, 1)
    w, b = _stack(hist, "weight_norm"), _stack(hist, "bias_norm")  # (T, M, L)
    layer: dict[str, list[np.ndarray]] = {}
    curves: dict[str, list[np.ndarray]] = {"undo_gap": [], "undo_gap_frozen": [],
                                           "input_shift": []}

    def put(name, value):
        layer.setdefault(name, []).append(value)

    for i in range(depth):
        g, be = _stack(hist, f"layer{i}.gamma"), _stack(hist, f"layer{i}.beta")  # (T, M, C)
        mu, sd = _stack(hist, f"layer{i}.mu_B"), _stack(hist, f"layer{i}.sigma_B")
        gap = _median_units(undo_gap(g, be, mu, sd))  # (T, M)
        # The same statistics with gamma and beta left at their start: what the gap would be
        # had only the pre-norm statistics moved. The difference is gamma and beta's own part.
        frozen = _median_units(undo_gap(g[:1], be[:1], mu, sd))
        curves["undo_gap"].append(gap)
        curves["undo_gap_frozen"].append(frozen)
        put("pre_norm_bias_growth", _ratio(b[-1, :, i], b[0, :, i]))
        put("pre_norm_weight_growth", _ratio(w[-1, :, i], w[0, :, i]))
        put("weight_norm_end", w[-1, :, i])
        put("bias_norm_end", b[-1, :, i])
        put("sigma_B_start", _median_units(sd[0]))
        put("sigma_B_end", _median_units(sd[-1]))
        put("sigma_B_growth", _median_units(_ratio(sd[-1], sd[0])))
        put("gamma_growth", _median_units(_ratio(np.abs(g[-1]), np.abs(g[0]))))
        put("gamma_end", _median_units(g[-1]))
        put("gamma_over_sigma", _median_units(g[-1] / np.maximum(sd[-1], 1e-12)))
        put("shift_over_sigma", _median_units(np.abs(be[-1] - mu[-1])
                                              / np.maximum(sd[-1], 1e-12)))
        put("gamma_sigma_corr", _corr_units(g[-1], sd[-1]))
        put("beta_mu_corr", _corr_units(be[-1], mu[-1]))
        put("undo_gap_start", gap[0])
        put("undo_gap", gap[-1])
        put("undo_gap_frozen", frozen[-1])
        # How far the distribution each nonlinearity sees moved between probe points, per
        # step: shift of each unit's mean in units of its std, plus the log-change of its std.
        zm, zs = _stack(hist, f"layer{i}.z_mean"), _stack(hist, f"layer{i}.z_std")
        zs = np.maximum(zs, 1e-12)
        mean_shift = _median_units(np.abs(np.diff(zm, axis=0)) / zs[:-1]) / dt  # (T-1, M)
        std_shift = _median_units(np.abs(np.diff(np.log(zs), axis=0))) / dt
        curves["input_shift"].append((mean_shift + std_shift) * PER_STEPS)
        put("input_shift", _nanmean((mean_shift + std_shift) * PER_STEPS, axis=0))
        put("input_mean_shift", _nanmean(mean_shift * PER_STEPS, axis=0))
        put("input_std_shift", _nanmean(std_shift * PER_STEPS, axis=0))
        for key in ("ics_l2", "ics_cosine", "ics_relative"):
            put(key, _nanmean(_stack(hist, key)[later][:, :, i], axis=0)
                if i > 0 else np.full(w.shape[1], np.nan))
    layer_out = {k: np.stack(v, axis=1) for k, v in layer.items()}  # (M, L)
    curve_out = {k: np.stack(v, axis=-1) for k, v in curves.items()}  # (T, M, L)
    curve_out["bias_norm_total"] = b.sum(-1)  # (T, M)
    curve_out["weight_norm_total"] = w.sum(-1)
    whole = {
        "test_acc": hist.final("test_acc"),
        "train_acc": hist.final("train_acc"),
        "final_train_loss": hist.final("train_loss"),
        "pre_norm_bias_growth": _ratio(b[-1].sum(-1), b[0].sum(-1)),
        "pre_norm_weight_growth": _ratio(w[-1].sum(-1), w[0].sum(-1)),
        "bias_norm_end": b[-1].sum(-1),
        "weight_norm_end": w[-1].sum(-1),
    }
    for key in ("loss_variation", "grad_predictiveness", "beta_smoothness"):
        series = _stack(hist, key)  # (T, M)
        curve_out[key] = series
        whole[key] = _nanmean(series[later], axis=0)
    return layer_out, whole, curve_out


ROW_LAYER_METRICS = (
    "pre_norm_bias_growth", "pre_norm_weight_growth", "weight_norm_end", "bias_norm_end",
    "sigma_B_start", "sigma_B_end", "sigma_B_growth", "gamma_end", "gamma_growth",
    "gamma_over_sigma", "shift_over_sigma", "gamma_sigma_corr", "beta_mu_corr",
    "undo_gap_start", "undo_gap", "undo_gap_frozen", "input_shift", "input_mean_shift",
    "input_std_shift", "ics_l2", "ics_cosine", "ics_relative")
GAMMA_METRICS = ("gamma_end", "gamma_growth", "gamma_over_sigma", "shift_over_sigma",
                 "gamma_sigma_corr", "beta_mu_corr", "undo_gap_start", "undo_gap",
                 "undo_gap_frozen")


def run(ctx: RunContext) -> Result:
    p = ctx.params
    data = datasets.load("mnist1d", num_samples=p["num_samples"])
    n_seeds, depth = p["seeds"], p["depth"]
    arms = list(dict.fromkeys(p["arms"]))  # a repeated name would train the same arm twice
    optimizers = list(dict.fromkeys(p["optimizers"]))
    rows: list[dict] = []
    cells: dict[tuple, dict[str, np.ndarray]] = {}  # (arm, optimizer, layer) -> per seed
    curves: dict[tuple, dict[str, np.ndarray]] = {}  # (arm, optimizer) -> (T, seeds[, L])
    units: dict[str, dict[str, np.ndarray]] = {}  # arm -> per-unit start/end, main optimizer
    steps: list[int] = []
    main = main_optimizer(optimizers)
    for k, opt in enumerate(optimizers):
        share = 1 / len(optimizers)
        hist = train_optimizer(ctx, data, arms, opt, k * share, share)
        layer, whole, curve = analyse(hist, depth)
        steps = hist.steps
        for j, arm in enumerate(arms):
            sl = slice(j * n_seeds, (j + 1) * n_seeds)
            for i in range(depth):
                cell = {name: layer[name][sl, i] for name in ROW_LAYER_METRICS}
                if arm not in AFFINE:
                    for name in GAMMA_METRICS:  # no gamma or beta: nothing to undo
                        cell[name] = np.full(n_seeds, np.nan)
                cells[(arm, opt, i)] = cell
                rows.append({"arm": arm, "optimizer": opt, "layer": i, **metric_cells(cell)})
            cell = {name: v[sl] for name, v in whole.items()}
            cells[(arm, opt, "all")] = cell
            rows.append({"arm": arm, "optimizer": opt, "layer": "all", **metric_cells(cell),
                         "diverged": float(hist.diverged[sl].mean())})
            curves[(arm, opt)] = {name: v[:, sl] for name, v in curve.items()}
            if opt == main:
                units[arm] = unit_values(hist, depth, sl)
    ctx.progress(0.97, "figures and summary")
    figs = [
        figure_gamma_sigma(ctx, units, arms, depth),
        figure_undo_gap(ctx, curves, steps, arms, main),
        figure_drift(ctx, curves, steps, arms, optimizers),
        figure_input_shift(ctx, curves, steps, arms, main, depth),
        figure_ics_landscape(ctx, cells, curves, steps, arms, main, depth),
    ]
    answer, summary = write_up(p, cells, rows, arms, optimizers)
    return Result(
        question_type=ID, title=QUESTION.title, answer=answer, summary_markdown=summary,
        params=p, preset=ctx.preset, rows=rows, figures=figs,
        references=cite("ioffe2015", "goodfellow2016", "santurkar2018", "laarhoven2017",
                        "frankle2021", "greydanus2020"),
        provenance=provenance(ctx, data.describe()))


def main_optimizer(optimizers: list[str]) -> str:
    return "sgd" if "sgd" in optimizers else optimizers[0]


def unit_values(hist: History, depth: int, sl: slice) -> dict[str, np.ndarray]:
    """Per layer, gamma and sigma_B of every unit of the arm's seeds at the start and end."""
    out = {}
    for i in range(depth):
        for key in ("gamma", "sigma_B"):
            values = hist.probes[f"layer{i}.{key}"]
            out[f"{i}.{key}.start"] = values[0][sl].ravel()
            out[f"{i}.{key}.end"] = values[-1][sl].ravel()
    return out


# -- figures -------------------------------------------------------------------------------
def _band_over(ax, x, series: np.ndarray, label: str, index: int, log: bool = False,
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


def figure_gamma_sigma(ctx, units, arms, depth):
    shown = [a for a in arms if a in AFFINE]
    fig, axes = figures.subplots(ncols=depth, height=2.8, sharey=True)
    for i in range(depth):
        ax = axes[0, i]
        lo, hi = math.inf, 0.0
        for arm in shown:
            idx = ARMS.index(arm)
            u = units[arm]
            for when in ("start", "end"):
                sigma = u[f"{i}.sigma_B.{when}"]
                gamma = np.clip(np.abs(u[f"{i}.gamma.{when}"]), 1e-2, None)
                filled = when == "end"
                ax.scatter(sigma, gamma, s=6, alpha=0.5 if filled else 0.35,
                           color=figures.colour(idx) if filled else "none",
                           edgecolors=figures.colour(idx), linewidths=0.5,
                           label=f"{SHORT[arm]} {when}" if i == 0 else None)
                finite = np.concatenate([sigma[np.isfinite(sigma)], gamma[np.isfinite(gamma)]])
                if finite.size:
                    lo, hi = min(lo, finite.min()), max(hi, finite.max())
        if hi > 0:
            line = np.array([max(lo, 1e-2), hi])
            ax.plot(line, line, color="black", linewidth=0.8, linestyle="--",
                    label="undo: gamma = sigma_B" if i == 0 else None)
        figures.plain_log(ax)
        ax.set_xlabel(f"sigma_B, layer {i}")
        if i == 0:
            ax.set_ylabel("|gamma|")
    axes[0, 0].legend(fontsize=6, loc="upper left")
    fig.suptitle("Each unit's gamma against the batch std it normalizes (hollow: start, "
                 "filled: end)", fontsize=9)
    return figures.save(fig, ctx, "gamma_vs_sigma",
                        "Per unit, |gamma| against the std sigma_B of the pre-norm activations "
                        "at the start (hollow) and end (filled) of training, all seeds; the "
                        "dashed line is the undo point gamma = sigma_B. |gamma| is clipped "
                        "below at 0.01.")


def figure_undo_gap(ctx, curves, steps, arms, main):
    fig, axes = figures.subplots()
    ax = axes[0, 0]
    for arm in (a for a in arms if a in AFFINE):
        idx = ARMS.index(arm)
        c = curves[(arm, main)]
        _band_over(ax, steps, c["undo_gap"].mean(-1), f"{SHORT[arm]}: measured", idx,
                   log=True)
        _band_over(ax, steps, c["undo_gap_frozen"].mean(-1),
                   f"{SHORT[arm]}: gamma, beta left at 1, 0", idx, log=True, linestyle=":",
                   marker="")
    ax.axhline(UNDO_TOLERANCE, color="grey", linewidth=0.8)
    figures.plain_log(ax, "y")
    ax.set_xlabel("training step")
    ax.set_ylabel("undo distance (median over units)")
    ax.set_title("Distance of the units from undoing the norm (0 = undone)")
    ax.legend(fontsize=7)
    return figures.save(fig, ctx, "undo_gap",
                        "Median over units (mean over layers) of the distance from the undo "
                        "point, |gamma/sigma_B - 1| + |beta - mu_B|/sigma_B, measured (solid) "
                        "and with the same batch statistics but gamma and beta left at their "
                        "start (dotted); the gap between the two is what gamma and beta did "
                        f"themselves. Grey line: {UNDO_TOLERANCE}. "
                        f"{main.upper()}, geometric mean and 95% CI over seeds.")


def figure_drift(ctx, curves, steps, arms, optimizers):
    fig, axes = figures.subplots(ncols=2)
    for k, opt in enumerate(optimizers):
        style = {"linestyle": "-", "marker": "."} if k == 0 else {"linestyle": "--",
                                                                  "marker": ""}
        for arm in arms:
            idx = ARMS.index(arm)
            c = curves[(arm, opt)]
            label = SHORT[arm] + ("" if len(optimizers) == 1 else f" ({opt})")
            _band_over(axes[0, 0], steps, c["bias_norm_total"], label, idx, **style)
            _band_over(axes[0, 1], steps, c["weight_norm_total"], label, idx, **style)
    axes[0, 0].set_ylabel("sum over layers of ||b||")
    axes[0, 0].set_title("Biases feeding the norms")
    axes[0, 1].set_ylabel("sum over layers of ||W||")
    axes[0, 1].set_title("Weights feeding the norms")
    for ax in axes[0]:
        ax.set_xlabel("training step")
    axes[0, 0].legend(fontsize=7)
    return figures.save(fig, ctx, "drift",
                        "Norms of the biases and weights of the layers that feed each norm, "
                        "summed over layers, during training; mean and 95% CI over seeds"
                        + (" (dashed: " + ", ".join(o.upper() for o in optimizers[1:]) + ")"
                           if len(optimizers) > 1 else "") + ".")


def figure_input_shift(ctx, curves, steps, arms, main, depth):
    fig, axes = figures.subplots(ncols=depth, height=2.8, sharey=True)
    mid = (np.asarray(steps[:-1]) + np.asarray(steps[1:])) / 2
    for i in range(depth):
        ax = axes[0, i]
        for arm in arms:
            _band_over(ax, mid, curves[(arm, main)]["input_shift"][:, :, i], SHORT[arm],
                       ARMS.index(arm), log=True)
        figures.plain_log(ax, "y")
        ax.set_xlabel(f"step, layer {i}")
    axes[0, 0].set_ylabel(f"movement per {PER_STEPS} steps")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("How fast the distribution each nonlinearity sees moves", fontsize=9)
    return figures.save(fig, ctx, "input_shift",
                        "Per layer, the median over units of |change of the unit's mean| / its "
                        "std plus |change of log std| between probe points, per "
                        f"{PER_STEPS} steps, on a fixed batch of training data in train mode; "
                        f"{main.upper()}, geometric mean and 95% CI over seeds.")


def figure_ics_landscape(ctx, cells, curves, steps, arms, main, depth):
    fig, axes = figures.subplots(ncols=2, nrows=2, height=2.8)
    layers = list(range(1, depth))
    width = 0.8 / len(arms)
    for j, arm in enumerate(arms):
        idx = ARMS.index(arm)
        for ax, key in ((axes[0, 0], "ics_l2"), (axes[0, 1], "ics_cosine")):
            # The cosine is shown as 1 - cos, so that small differences near 1 are visible.
            sign, offset = (-1, 1) if key == "ics_cosine" else (1, 0)
            est = [mean_ci(offset + sign * cells[(arm, main, i)][key]) for i in layers]
            x = np.array(layers) + (j - (len(arms) - 1) / 2) * width
            ax.bar(x, [e.mean for e in est], width, color=figures.colour(idx),
                   label=SHORT[arm],
                   yerr=np.array([[e.mean - e.lo for e in est], [e.hi - e.mean for e in est]]),
                   error_kw={"linewidth": 0.8})
        c = curves[(arm, main)]
        _band_over(axes[1, 0], steps, c["loss_variation"], SHORT[arm], idx, log=True)
        _band_over(axes[1, 1], steps, c["beta_smoothness"], SHORT[arm], idx, log=True)
    for ax in axes[0]:
        ax.set_xticks(layers)
        ax.set_xlabel("layer")
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
                        "shift per layer (top; mean over training, 95% CI over seeds) and the "
                        "loss and gradient along the gradient direction over training "
                        f"(bottom; geometric mean and 95% CI over seeds); {main.upper()}.")


# -- the write-up ---------------------------------------------------------------------------
def _layer_mean(cells, arm, opt, key, layers=None) -> np.ndarray:
    """(seeds,) a layer metric averaged over layers (all, or the given ones)."""
    keys = [k for k in cells if k[0] == arm and k[1] == opt and k[2] != "all"
            and (layers is None or k[2] in layers)]
    return _nanmean(np.stack([cells[k][key] for k in keys]), axis=0)


def ratio_estimate(a: np.ndarray, b: np.ndarray) -> Estimate:
    """Paired geometric-mean ratio a/b over seeds, with a 95% CI, as exp of the log difference;
    `direction` on it (after the log) says whether a is reliably larger or smaller."""
    with np.errstate(invalid="ignore", divide="ignore"):
        d = paired_diff(np.log(a), np.log(b))
    return d


def _ratio_text(d: Estimate) -> str:
    return f"{fmt(math.exp(d.mean))}x (95% CI {fmt(math.exp(d.lo))} to {fmt(math.exp(d.hi))})"


def compare_ratio(a: np.ndarray, b: np.ndarray, a_name: str, b_name: str, metric: str) -> str:
    """'metric with A was 2.10x (95% CI ...) that with B' or 'no reliable difference ...'."""
    d = ratio_estimate(a, b)
    if d.n < 2 or not math.isfinite(d.mean):
        return f"{metric}: too few seeds to compare {a_name} with {b_name}"
    if direction(d) == 0:
        return (f"no reliable difference in {metric} between {a_name} and {b_name} "
                f"(ratio {_ratio_text(d)})")
    return f"{metric} with {a_name} was {_ratio_text(d)} that with {b_name}"


def write_up(p, cells, rows, arms, optimizers) -> tuple[str, str]:
    main = main_optimizer(optimizers)
    have = set(arms)
    depth = p["depth"]
    deep = list(range(1, depth))

    def lm(arm, key, layers=None, opt=main):
        return _layer_mean(cells, arm, opt, key, layers)

    def whole(arm, key, opt=main):
        return cells[(arm, opt, "all")][key]

    def est(values, digits=2):
        return fmt_ci(mean_ci(values), digits)

    def mean(values):
        return mean_ci(values).mean

    answer: list[str] = []
    evidence: list[str] = []
    opening = ("Backprop could in principle cancel batch norm by learning gamma = sigma_B and "
               "beta = mu_B (the batch std and mean that the layer divides out), but nothing in "
               "the loss rewards doing so")
    if "batchnorm" in have:
        gap, gap0 = lm("batchnorm", "undo_gap"), lm("batchnorm", "undo_gap_start")
        own = paired_diff(gap, lm("batchnorm", "undo_gap_frozen"))
        gap_est = mean_ci(gap)
        if gap_est.lo > UNDO_TOLERANCE:
            verdict = "and in this run it did not happen"
        elif gap_est.hi < UNDO_TOLERANCE:
            verdict = "yet in this run the units did end close to that point"
        else:
            verdict = "and this run cannot tell whether it happened"
        moved = {
            -1: f"gamma and beta's own changes brought units {fmt(-own.mean)} closer to it "
                f"than leaving them at 1 and 0 would have (95% CI {fmt(-own.hi)} to "
                f"{fmt(-own.lo)})",
            0: f"gamma and beta's own changes did not bring units reliably closer to it than "
               f"leaving them at 1 and 0 would have ({fmt(own.mean)}, 95% CI {fmt(own.lo)} "
               f"to {fmt(own.hi)})",
            1: f"gamma and beta's own changes moved units further from it, by {fmt(own.mean)} "
               f"(95% CI {fmt(own.lo)} to {fmt(own.hi)})"}[direction(own)]
        answer.append(
            f"{opening}, {verdict}: after {p['steps']} {main.upper()} steps the typical unit "
            f"was {fmt(gap_est.mean)} away from undoing the norm (0 = fully undone; "
            f"{fmt(mean(gap0))} at the start), and {moved}.")
        sg, gg = lm("batchnorm", "sigma_B_growth"), lm("batchnorm", "gamma_growth")
        scale = ratio_estimate(np.abs(np.log(sg)), np.abs(np.log(gg)))
        if direction(scale) > 0:
            answer.append(
                f"What did change was the scale of the pre-norm activations, set by the weights: "
                f"sigma_B {_factor(mean(sg))} while gamma {_factor(mean(gg))}, so the "
                "ratio gamma/sigma_B changed mainly because sigma_B did, not because gamma "
                "followed it.")
        else:
            answer.append(f"Over training the pre-norm scale sigma_B {_factor(mean(sg))} and "
                          f"gamma {_factor(mean(gg))}, not reliably different factors.")
    else:
        answer.append(opening + "; this run had no batch-norm arm to measure it on.")
    if {"batchnorm", "no_norm"} <= have:
        answer.append(
            "Because a unit's output mean and scale are set by beta and gamma alone, each "
            "layer's input distribution is governed by two parameters per unit instead of by "
            "every layer below: " + compare_ratio(
                lm("batchnorm", "input_shift"), lm("no_norm", "input_shift"), "batch norm",
                "no normalization", f"its movement per {PER_STEPS} steps") + ".")
    if {"batchnorm", "batchnorm_detached"} <= have:
        gb = whole("batchnorm", "pre_norm_bias_growth")
        gd = whole("batchnorm_detached", "pre_norm_bias_growth")
        acc = paired_diff(whole("batchnorm_detached", "test_acc"), whole("batchnorm", "test_acc"))
        if direction(ratio_estimate(gd, gb)) > 0:
            drift = (f"let the biases feeding the norm drift, growing {fmt(mean(gd))}x against "
                     f"{fmt(mean(gb))}x with batch norm")
        else:
            drift = ("did not make the biases feeding the norm grow reliably more than with "
                     f"batch norm ({fmt(mean(gd))}x against {fmt(mean(gb))}x)")
        answer.append(
            "Taking the statistics out of the gradient, the failure Ioffe & Szegedy warn about, "
            f"{drift}; {compare(acc, 'detached BN', 'BN', 'test accuracy')}.")

    # -- evidence ---------------------------------------------------------------------------
    if "batchnorm" in have:
        for arm in (a for a in AFFINE if a in have):
            gap = lm(arm, "undo_gap")
            evidence.append(
                f"- Distance from the undo point ({LABELS[arm]}, median over units, mean over "
                f"layers; 0 = undone): {est(lm(arm, 'undo_gap_start'))} at the start, "
                f"{est(gap)} at the end; {fmt(100 * float(np.mean(gap < UNDO_TOLERANCE)), 0)}% "
                f"of seeds ended below {UNDO_TOLERANCE}. With the same final statistics but "
                f"gamma and beta left at 1 and 0 it would be {est(lm(arm, 'undo_gap_frozen'))}: "
                + compare(paired_diff(gap, lm(arm, "undo_gap_frozen")),
                          "trained gamma and beta", "gamma and beta left at 1 and 0",
                          "undo distance") + ".")
        per_layer = "; ".join(
            f"layer {i}: sigma_B {est(cells[('batchnorm', main, i)]['sigma_B_start'])} -> "
            f"{est(cells[('batchnorm', main, i)]['sigma_B_end'])}, gamma -> "
            f"{est(cells[('batchnorm', main, i)]['gamma_end'])}, ||W|| grew "
            f"{fmt(mean(cells[('batchnorm', main, i)]['pre_norm_weight_growth']))}x"
            for i in range(depth))
        scale = ratio_estimate(np.abs(np.log(lm("batchnorm", "sigma_B_growth"))),
                               np.abs(np.log(lm("batchnorm", "gamma_growth"))))
        scale_text = {1: "sigma_B moved further from its start than gamma did",
                      0: "sigma_B and gamma did not move by reliably different factors",
                      -1: "gamma moved further from its start than sigma_B did"}
        evidence.append(f"- Scale, batch norm (median over units): {per_layer}. Measured as "
                        f"|log(end/start)|, {scale_text[direction(scale)]}.")
        corr = "; ".join(
            f"layer {i}: {est(cells[('batchnorm', main, i)]['gamma_sigma_corr'])}"
            for i in range(depth))
        evidence.append("- Correlation across units between gamma and sigma_B at the end "
                        f"(batch norm): {corr}. A network undoing the norm would show values "
                        "near 1 with gamma/sigma_B near 1 (here median gamma/sigma_B "
                        f"{est(lm('batchnorm', 'gamma_over_sigma'))}).")
    if {"batchnorm", "batchnorm_detached"} <= have:
        evidence.append(
            "- Biases feeding the norm, summed over layers (growth end/start): "
            f"BN {est(whole('batchnorm', 'pre_norm_bias_growth'))}, detached BN "
            f"{est(whole('batchnorm_detached', 'pre_norm_bias_growth'))}"
            + (f", no norm {est(whole('no_norm', 'pre_norm_bias_growth'))}"
               if "no_norm" in have else "")
            + ". With BN the bias gets no gradient (the mean subtraction cancels it, and the "
            "gradient accounts for that); detached, it gets a gradient whose effect the next "
            "batch mean removes, so whatever it grows changes nothing in the output.")
        evidence.append(
            "- Weights feeding the norm (growth end/start, summed over layers): "
            + compare_ratio(whole("batchnorm_detached", "pre_norm_weight_growth"),
                            whole("batchnorm", "pre_norm_weight_growth"), "detached BN", "BN",
                            "weight growth") + ".")
        worst = max(range(depth), key=lambda i: mean(
            cells[("batchnorm_detached", main, i)]["shift_over_sigma"]))
        evidence.append(
            f"- Shift |beta - mu_B|/sigma_B at the end, layer {worst}: detached BN "
            f"{est(cells[('batchnorm_detached', main, worst)]['shift_over_sigma'])}, BN "
            f"{est(cells[('batchnorm', main, worst)]['shift_over_sigma'])}.")
        evidence.append(
            f"- Test accuracy: BN {est(whole('batchnorm', 'test_acc'))}, detached BN "
            f"{est(whole('batchnorm_detached', 'test_acc'))}; final training loss: BN "
            f"{est(whole('batchnorm', 'final_train_loss'))}, detached BN "
            f"{est(whole('batchnorm_detached', 'final_train_loss'))}.")
    div = {r["arm"]: r["diverged"] for r in rows if r["layer"] == "all"
           and r["optimizer"] == main}
    evidence.append("- Diverged runs: " + ", ".join(
        f"{SHORT[a]} {fmt(100 * div[a], 0)}%" for a in arms) + ".")
    if "no_norm" in have:
        evidence.append(f"- No normalization: test accuracy {est(whole('no_norm', 'test_acc'))}.")
        for arm in (a for a in ("batchnorm", "batchnorm_detached") if a in have):
            moved = compare_ratio(lm(arm, "input_shift"), lm("no_norm", "input_shift"),
                                  SHORT[arm], "no norm", "movement")
            evidence.append(
                f"- Movement per {PER_STEPS} steps of the distribution each nonlinearity sees "
                f"(mean over layers): {moved}; mean part {est(lm(arm, 'input_mean_shift'), 3)} vs "
                f"{est(lm('no_norm', 'input_mean_shift'), 3)}, std part "
                f"{est(lm(arm, 'input_std_shift'), 3)} vs "
                f"{est(lm('no_norm', 'input_std_shift'), 3)}.")
        if "batchnorm" in have and deep:
            ics = direction(ratio_estimate(lm("batchnorm", "ics_l2", deep),
                                           lm("no_norm", "ics_l2", deep)))
            smooth = direction(ratio_estimate(whole("batchnorm", "beta_smoothness"),
                                              whole("no_norm", "beta_smoothness")))
            spread = direction(ratio_estimate(whole("batchnorm", "loss_variation"),
                                              whole("no_norm", "loss_variation")))
            evidence.append(
                "- Against Santurkar et al. (2018), who found internal covariate shift no lower "
                "with batch norm and its loss and gradient better behaved: here ICS "
                + {1: "was higher with BN, as they found",
                   0: "was not reliably different with BN",
                   -1: "was lower with BN, unlike their result"}[ics]
                + "; the effective beta-smoothness "
                + {1: "was higher (rougher) with BN, unlike their result",
                   0: "was not reliably different, so this run does not show their smoother "
                      "gradient",
                   -1: "was lower (smoother) with BN, as they report"}[smooth]
                + "; and the loss variation along the gradient "
                + {1: "was larger with BN, unlike their result",
                   0: "was not reliably different",
                   -1: "was smaller with BN, as they report"}[spread]
                + ".")
            evidence.append(
                "- Internal covariate shift as gradient change (Santurkar et al.), layers "
                f"{', '.join(map(str, deep))}: "
                + compare_ratio(lm("batchnorm", "ics_l2", deep), lm("no_norm", "ics_l2", deep),
                                "BN", "no norm", "||G - G'||") + "; "
                + compare(paired_diff(lm("batchnorm", "ics_cosine", deep),
                                      lm("no_norm", "ics_cosine", deep)),
                          "BN", "no norm", "cos(G, G')", 3)
                + f" (BN {est(lm('batchnorm', 'ics_cosine', deep), 3)}, no norm "
                  f"{est(lm('no_norm', 'ics_cosine', deep), 3)}).")
            steps_text = ", ".join(str(s) for s in p["landscape_steps"])
            evidence.append(
                f"- Along the gradient (steps {steps_text}): "
                + "; ".join(compare_ratio(whole("batchnorm", k), whole("no_norm", k), "BN",
                                          "no norm", name)
                            for k, name in (("loss_variation", "loss variation"),
                                            ("grad_predictiveness", "gradient change"),
                                            ("beta_smoothness", "effective beta-smoothness")))
                + f" (beta-smoothness BN {est(whole('batchnorm', 'beta_smoothness'))}, no norm "
                  f"{est(whole('no_norm', 'beta_smoothness'))}).")
    for opt in optimizers:
        if opt == main or not {"batchnorm", "batchnorm_detached"} <= have:
            continue
        evidence.append(
            f"- With {opt.upper()} (lr {p['adam_lr']}): bias growth detached BN "
            f"{est(whole('batchnorm_detached', 'pre_norm_bias_growth', opt))} vs BN "
            f"{est(whole('batchnorm', 'pre_norm_bias_growth', opt))}; distance from the undo "
            f"point (BN) {est(lm('batchnorm', 'undo_gap', opt=opt))}; test accuracy BN "
            f"{est(whole('batchnorm', 'test_acc', opt))}, detached "
            f"{est(whole('batchnorm_detached', 'test_acc', opt))}. Adam's per-parameter step "
            "is about its learning rate whatever the gradient, which limits how fast a bias "
            "can drift.")

    lines = [f"## {QUESTION.title}", "", "**Short answer.** " + " ".join(answer), "",
             "### What was measured", "",
             f"An MLP with {depth} hidden layers of {p['width']} {p['activation']} units "
             "(linear with bias -> norm -> activation) on MNIST-1D, trained for "
             f"{p['steps']} steps at batch size {p['batch_size']} with "
             + ", ".join(_opt_text(p, o) for o in optimizers)
             + f"; {p['seeds']} seeds per arm, the same seeds (initialisation and data order) in "
             "every arm, so differences are paired by seed. At "
             f"{p['probe_points'] + 1} points during training the run measured, per layer and "
             "unit, gamma, beta and the mean mu_B and std sigma_B of the pre-norm activations "
             "on a fixed batch of 512 training samples (train mode, batch statistics over "
             f"groups of {p['batch_size']}); the norms of the weights and biases feeding each "
             "norm; the mean and std of each unit's input to the nonlinearity on that batch; "
             "and, on the current training batch, internal covariate shift (G and G' = the "
             "gradient of a layer's weights before and after the layers below take one plain "
             f"gradient step of {p['lr']}) and the loss and gradient at theta - eta * gradient. "
             "Intervals are 95% t-intervals over seeds; ratios are geometric means over seeds.",
             "", _table(cells, arms, main, depth), "", "### Evidence", "", *evidence, "",
             "### Why", "",
             "Gamma and beta can represent the identity: with gamma = sqrt(Var x) and "
             "beta = E x the layer would return its input (Ioffe & Szegedy 2015, Sec. 3). They "
             "are not there to be pushed back to that point; they keep the layer able to "
             "express any output scale and offset after normalizing. Because mu_B and sigma_B "
             "are computed inside the forward pass that backprop differentiates, the gradient "
             "already accounts for the fact that shifting or scaling the pre-norm activations "
             "is normalized away: the bias before the norm gets no gradient at all, and the "
             "weights get gradients orthogonal to their own scale (Sec. 3.3). Ioffe & Szegedy "
             "(Sec. 2) describe what happens when the normalization sits outside the gradient "
             "step: the optimizer keeps pushing a bias whose effect the next normalization "
             "removes, so it grows while the loss does not move; the detached arm is that "
             "setting.",
             "",
             "The benefit is a reparameterisation (Goodfellow, Bengio & Courville 2016, Sec. "
             "8.7.1): the same functions are reachable with and without the norm, but with it "
             "the mean and scale of a layer's output are two parameters per unit, beta and "
             "gamma, instead of the outcome of every weight below, which gradient descent "
             "handles much more easily. Only the first two moments are fixed; the shape of the "
             "distribution and relations between units still change. Since the layer ignores "
             "the scale of the weights feeding it, sigma_B drifts with the weight norm, which "
             "also sets the effective step size (van Laarhoven 2017), while gamma sets the "
             "output scale. Santurkar et al. (2018) argue that the gain is not steadier "
             "distributions but a smoother loss: they found internal covariate shift, measured "
             "as gradient change, no lower with batch norm, and the loss and gradient more "
             "predictable along the gradient. Frankle, Schwab & Morcos (2021) show how much "
             "gamma and beta can do by themselves: training only them on random features "
             "reaches well above chance, with many gammas near zero, which is far from an "
             "undo.",
             "", "### Limits", "",
             f"A small MLP on a small dataset, {p['seeds']} seeds per arm and {p['steps']} "
             "steps. The undo distance is a median over units; a few units can sit near the "
             "undo point while most do not. The frozen-gamma comparison splits the change of "
             "the distance into the part from the statistics and the part from gamma and beta "
             "for the same final statistics; it is not a separate training run. Input movement "
             "is measured between probe points and divided by the steps between them, so "
             "back-and-forth movement inside an interval is not counted. The landscape probe "
             "uses fixed step sizes for every arm; where the loss only falls along the ray, "
             "its loss variation mixes progress with roughness. The ICS step below is a plain "
             "gradient step, not the optimizer's momentum step. With other learning rates, "
             "weight decay or much deeper networks the sizes, and possibly the signs, of these "
             "effects can change; results marked as not reliable are within this run's "
             "seed-to-seed noise."]
    return " ".join(answer), "\n".join(lines) + "\n"


def _factor(ratio: float) -> str:
    """'grew 7.90x' or 'shrank to 0.50x' for an end/start ratio."""
    return f"grew {fmt(ratio)}x" if ratio >= 1 else f"shrank to {fmt(ratio)}x"


def _opt_text(p: dict, opt: str) -> str:
    if opt == "sgd":
        return f"SGD (lr {p['lr']}, momentum {p['momentum']})"
    return f"Adam (lr {p['adam_lr']})"


def _table(cells, arms, main, depth) -> str:
    cols = [("test_acc", "test acc", None), ("pre_norm_bias_growth", "bias growth", None),
            ("pre_norm_weight_growth", "weight growth", None),
            ("undo_gap", "undo distance", "layer"), ("sigma_B_growth", "sigma_B growth", "layer"),
            ("gamma_growth", "gamma growth", "layer"),
            ("input_shift", f"input movement /{PER_STEPS} steps", "layer"),
            ("beta_smoothness", "beta-smoothness", None)]
    out = ["| arm | " + " | ".join(c[1] for c in cols) + " |", "|---|" + "---|" * len(cols)]
    for arm in arms:
        vals = []
        for key, _, kind in cols:
            v = (_layer_mean(cells, arm, main, key) if kind == "layer"
                 else cells[(arm, main, "all")][key])
            vals.append(fmt(mean_ci(v).mean, 3 if key == "input_shift" else 2))
        out.append(f"| {LABELS[arm]} | " + " | ".join(vals) + " |")
    out.append("")
    out.append("Growth is end over start, summed over layers; the other layer metrics are "
               "medians over units, averaged over layers; n/a where an arm has no gamma.")
    return "\n".join(out)


title, question = planned_entry(ID)
QUESTION = QuestionType(ID, title, question, SCHEMA, run)
