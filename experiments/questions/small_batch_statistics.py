"""small_batch_statistics: "with small batches, why not normalize with the running (EWA)
statistics during training too?"

The asker's idea is the `ewa_forward` norm: the running averages normalize the training forward
pass, with no gradient through them. It is trained next to batch norm, batch renormalization
(Ioffe 2017), group norm (Wu & He 2018) and no normalization, over a sweep of batch sizes at
equal epochs, all arms and seeds of one batch size in one batched model. After training, the
batch-norm arm is also evaluated with recalibrated "precise" statistics (Wu & Johnson 2021).
"""

from __future__ import annotations

import copy
import math

import numpy as np

from .. import datasets, figures, models, probes
from ..catalog import QuestionType, planned_entry
from ..params import Param, Schema, seeds_param
from ..references import cite
from ..result import Result, RunContext, provenance
from ..stats import compare, direction, fmt, fmt_ci, mean_ci, metric_cells, paired_diff, sentence
from ..trainer import History, TrainConfig, Trainer

ID = "small_batch_statistics"

ARMS = ("batchnorm", "ewa_forward", "batch_renorm", "groupnorm", "no_norm")
CHOICES = (*ARMS, "layernorm")
LABELS = {
    "batchnorm": "batch norm",
    "ewa_forward": "running averages in training (your idea)",
    "batch_renorm": "batch renorm",
    "groupnorm": "group norm",
    "no_norm": "no normalization",
    "layernorm": "layer norm",
    "precise_bn": "batch norm, recalibrated stats",
}
SHORT = {"batchnorm": "BN", "ewa_forward": "EWA-forward", "batch_renorm": "batch renorm",
         "groupnorm": "group norm", "no_norm": "no norm", "layernorm": "layer norm",
         "precise_bn": "BN+precise stats"}

SCHEMA = Schema(
    params=(
        seeds_param(5),
        Param("batch_sizes", "int_list", [2, 4, 8, 16, 32, 128],
              "batch sizes to sweep (epochs are matched, so small batches take more steps)",
              min=2, max=512, max_len=8),
        Param("arms", "str_list", list(ARMS), "normalizations to compare", choices=CHOICES,
              max_len=len(CHOICES)),
        Param("model", "str", "mlp", "network", choices=("mlp", "cnn")),
        Param("width", "int", 128, "hidden units (MLP) or channels (CNN)", min=8, max=512),
        Param("depth", "int", 2, "hidden layers (MLP) or conv layers (CNN)", min=1, max=6),
        Param("epochs", "int", 20, "training epochs at every batch size", min=1, max=200),
        Param("optimizer", "str", "sgd", "optimizer", choices=("sgd", "adam")),
        Param("lr", "float", 0.01, "learning rate at batch size 1; scaled by lr_rule",
              min=1e-5, max=1.0),
        Param("lr_max", "float", 0.05, "cap on the scaled learning rate", min=1e-5, max=1.0),
        Param("lr_rule", "str", "sqrt", "how the learning rate grows with batch size",
              choices=("sqrt", "linear", "constant")),
        Param("momentum", "float", 0.9, "SGD momentum", min=0.0, max=0.99),
        Param("ewa_momentum", "float", 0.1,
              "weight of each new batch in the running averages (PyTorch convention)",
              min=0.001, max=1.0),
        Param("renorm_r_max", "float", 3.0, "batch renorm: largest correction of the scale",
              min=1.0, max=10.0),
        Param("renorm_d_max", "float", 5.0, "batch renorm: largest correction of the shift",
              min=0.0, max=20.0),
        Param("renorm_warmup", "float", 0.05,
              "batch renorm: fraction of training as plain batch norm before r and d relax",
              min=0.0, max=0.9),
        Param("num_samples", "int", 5000, "MNIST-1D samples (80% train, 20% test)",
              min=500, max=50000),
    ),
    presets={
        "smoke": {"seeds": 2, "batch_sizes": [4, 32], "epochs": 1, "width": 32,
                  "num_samples": 1000},
        "quick": {"seeds": 5, "batch_sizes": [4, 16, 128], "epochs": 8, "width": 64},
        "full": {"seeds": 10, "batch_sizes": [2, 4, 8, 16, 32, 64, 128], "epochs": 20},
    },
)


RULES = {"sqrt": "sqrt(batch)", "linear": "batch", "constant": "1"}


def scaled_lr(p: dict, batch_size: int) -> float:
    factor = {"sqrt": math.sqrt(batch_size), "linear": float(batch_size),
              "constant": 1.0}[p["lr_rule"]]
    return min(p["lr_max"], p["lr"] * factor)


def arm_spec(arm: str, p: dict, steps: int) -> models.Arm:
    seeds = p["seeds"]
    if arm == "no_norm":
        return models.Arm("none", seeds)
    if arm == "ewa_forward":
        return models.Arm("ewa_forward", seeds, {"momentum": p["ewa_momentum"]})
    if arm == "batch_renorm":
        warm = int(p["renorm_warmup"] * steps)
        ramp = max(1, int(0.5 * steps))  # r and d reach their limits by about 55% of training
        return models.Arm("batch_renorm", seeds, {
            "r_max": p["renorm_r_max"], "d_max": p["renorm_d_max"], "warmup_steps": warm,
            "r_ramp_steps": ramp, "d_ramp_steps": ramp})
    if arm == "groupnorm":
        return models.Arm("groupnorm", seeds, {"num_groups": group_count(p["width"],
                                                                          p["model"])})
    return models.Arm(arm, seeds)


def group_count(width: int, model: str) -> int:
    """Groups for group norm. An MLP unit has one value per sample, so a group needs enough
    channels to give a usable mean and variance (at least 16); a CNN channel adds its length."""
    per_group = 16 if model == "mlp" else 4
    return max(g for g in range(1, 33) if width % g == 0 and width // g >= per_group
               or g == 1)


def train_batch_size(ctx: RunContext, data: datasets.Dataset, batch_size: int,
                     done: float, share: float) -> tuple[History, dict[str, np.ndarray]]:
    """All arms x seeds at one batch size in one batched model; extra per-member metrics."""
    p = ctx.params
    seeds, arms = ctx.seeds(), p["arms"]
    cfg = TrainConfig(batch_size=batch_size, epochs=p["epochs"], optimizer=p["optimizer"],
                      lr=scaled_lr(p, batch_size), momentum=p["momentum"], n_evals=8,
                      eval_train_mode=True)
    steps = cfg.total_steps(len(data.y_train))
    spec = models.ModelSpec(kind=p["model"], width=p["width"], depth=p["depth"])
    member_seeds = seeds * len(arms)  # the same seeds in every arm: paired comparisons
    model = models.build(spec, member_seeds, data.n_features, data.n_classes,
                         arms=[arm_spec(a, p, steps) for a in arms])
    trainer = Trainer(model, data, cfg, member_seeds, ctx.device,
                      probes=[probes.WeightNorms()],
                      on_progress=lambda f, msg: ctx.progress(
                          done + share * f, f"batch {batch_size}: {msg}"))
    hist = trainer.run()
    extra = probes.running_stat_error(trainer.model, trainer.data.x_train)
    # Drift of the biases feeding each norm: end over start, averaged over layers.
    bias = hist.probes["bias_norm"]
    extra["pre_norm_bias_growth"] = (bias[-1] / np.maximum(bias[0], 1e-12)).mean(axis=1)
    if "batchnorm" in arms:
        precise = copy.deepcopy(trainer.model)
        probes.recalibrate(precise, trainer.data.x_train, ("batchnorm",))
        extra["precise_test_acc"] = trainer.evaluate_model(precise)["test_acc"].cpu().numpy()
    return hist, extra


def run(ctx: RunContext) -> Result:
    p = ctx.params
    data = datasets.load("mnist1d", num_samples=p["num_samples"])
    batch_sizes = sorted(set(p["batch_sizes"]))
    arms, n_seeds = p["arms"], p["seeds"]
    weights = np.array([len(data.y_train) // b * b for b in batch_sizes], dtype=float)
    weights /= weights.sum()  # progress share per batch size: work grows with epochs x data
    rows, per_cell, curves = [], {}, {}
    done = 0.0
    for b, share in zip(batch_sizes, weights, strict=True):
        hist, extra = train_batch_size(ctx, data, b, done, share)
        done += share
        for i, arm in enumerate(arms):
            sl = slice(i * n_seeds, (i + 1) * n_seeds)
            cell = {
                "test_acc": hist.final("test_acc")[sl],
                "train_mode_test_acc": hist.final("train_mode_test_acc")[sl],
                "final_train_loss": hist.final("train_loss")[sl],
                "running_mean_err": extra["running_mean_err"][sl],
                "running_std_err": extra["running_std_err"][sl],
                "pre_norm_bias_growth": extra["pre_norm_bias_growth"][sl],
            }
            per_cell[(arm, b)] = cell
            curves[(arm, b)] = (hist.steps, hist.metrics["test_acc"][:, sl])
            rows.append({"arm": arm, "batch_size": b, "lr": scaled_lr(p, b),
                         "steps": hist.total_steps, **metric_cells(cell),
                         "diverged": float(hist.diverged[sl].mean())})
        if "precise_test_acc" in extra:
            i = arms.index("batchnorm")
            sl = slice(i * n_seeds, (i + 1) * n_seeds)
            cell = {"test_acc": extra["precise_test_acc"][sl]}
            per_cell[("precise_bn", b)] = cell
            rows.append({"arm": "precise_bn", "batch_size": b, "lr": scaled_lr(p, b),
                         "steps": hist.total_steps, **metric_cells(cell),
                         "diverged": float(hist.diverged[sl].mean())})
    ctx.progress(0.97, "figures and summary")
    figs = [
        figure_accuracy(ctx, rows, arms),
        figure_eval_vs_train(ctx, rows, arms),
        figure_curves(ctx, curves, arms, batch_sizes[0]),
    ]
    answer, summary = write_up(p, per_cell, rows, batch_sizes, arms)
    return Result(
        question_type=ID, title=QUESTION.title, answer=answer, summary_markdown=summary,
        params=p, preset=ctx.preset, rows=rows, figures=figs,
        references=cite("ioffe2015", "ioffe2017", "wu2018", "wu2021", "yan2020",
                        "greydanus2020"),
        provenance=provenance(ctx, data.describe()))


# -- figures ------------------------------------------------------------------------------
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
    ax.set_xlabel("batch size (epochs matched)")
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


# -- the write-up ---------------------------------------------------------------------------
def _acc(per_cell, arm, b):
    return per_cell[(arm, b)]["test_acc"]


def write_up(p, per_cell, rows, batch_sizes, arms) -> tuple[str, str]:
    small = batch_sizes[0]
    normal = min(batch_sizes, key=lambda b: (abs(math.log2(b / 32)), -b))
    seeds = p["seeds"]
    have = set(arms)
    lines = [f"## {QUESTION.title}", ""]
    answer: list[str] = []
    div = {r["arm"]: r["diverged"] for r in rows if r["batch_size"] == small}

    def est(arm, b):
        return fmt_ci(mean_ci(_acc(per_cell, arm, b)))

    def cmp(a, b_arm, b):
        return compare(paired_diff(_acc(per_cell, a, b), _acc(per_cell, b_arm, b)),
                       SHORT[a], SHORT[b_arm], f"test accuracy at batch {b}")

    if {"ewa_forward", "batchnorm"} <= have:
        d_small = paired_diff(_acc(per_cell, "ewa_forward", small),
                              _acc(per_cell, "batchnorm", small))
        d_normal = paired_diff(_acc(per_cell, "ewa_forward", normal),
                               _acc(per_cell, "batchnorm", normal))
        verdict = {1: "beat", -1: "did worse than", 0: "was not reliably different from"}
        answer.append(
            f"In this run, normalizing with the running averages during training "
            f"{verdict[direction(d_small)]} batch norm at batch size {small} "
            f"({fmt(mean_ci(_acc(per_cell, 'ewa_forward', small)).mean)} vs "
            f"{fmt(mean_ci(_acc(per_cell, 'batchnorm', small)).mean)} test accuracy) and "
            f"{verdict[direction(d_normal)]} it at batch size {normal} "
            f"({fmt(mean_ci(_acc(per_cell, 'ewa_forward', normal)).mean)} vs "
            f"{fmt(mean_ci(_acc(per_cell, 'batchnorm', normal)).mean)}).")
        growth = paired_diff(per_cell[("ewa_forward", small)]["pre_norm_bias_growth"],
                             per_cell[("batchnorm", small)]["pre_norm_bias_growth"])
        g_ewa = mean_ci(per_cell[("ewa_forward", small)]["pre_norm_bias_growth"]).mean
        g_bn = mean_ci(per_cell[("batchnorm", small)]["pre_norm_bias_growth"]).mean
        drift = (f" (here the biases feeding the norm grew {fmt(g_ewa, 1)}x with running "
                 f"averages against {fmt(g_bn, 1)}x with batch norm)"
                 if direction(growth) > 0 else "")
        if direction(d_small) > 0:
            answer.append(
                "So at tiny batches the noise of the batch statistics cost batch norm more than "
                "the running averages did here; but the running averages are "
                "constants to the gradient, so the optimizer no longer sees how its steps move "
                "the statistics it is normalized by, which lets parameters drift" + drift + ".")
        else:
            answer.append(
                "The running averages are constants to the gradient, so the optimizer no "
                "longer sees how its steps move the statistics it is normalized by" + drift
                + "; that is why batch norm keeps the batch statistics inside the gradient.")
    fixes = [a for a in ("batch_renorm", "groupnorm") if a in have and "batchnorm" in have]
    better = [a for a in fixes if direction(paired_diff(_acc(per_cell, a, small),
                                                        _acc(per_cell, "batchnorm", small))) > 0]
    if better:
        answer.append(
            f"The established fixes did better than batch norm's "
            f"{fmt(mean_ci(_acc(per_cell, 'batchnorm', small)).mean)} at batch size {small}: "
            + " and ".join(f"{SHORT[a]} reached {fmt(mean_ci(_acc(per_cell, a, small)).mean)}"
                           for a in better) + ".")
    elif fixes:
        answer.append(f"Neither {' nor '.join(SHORT[a] for a in fixes)} beat batch norm "
                      f"reliably at batch size {small} in this run.")

    lines += ["**Short answer.** " + " ".join(answer), "", "### What was measured", ""]
    lines.append(
        f"{p['model'].upper()} (width {p['width']}, depth {p['depth']}) on MNIST-1D, "
        f"{p['epochs']} epochs at every batch size ({', '.join(map(str, batch_sizes))}), "
        f"{p['optimizer'].upper()} with learning rate min({p['lr_max']}, {p['lr']} x "
        f"{RULES[p['lr_rule']]}), "
        f"{seeds} seeds per cell, the same seeds (initialisation and data order) in every arm, "
        "so differences are paired by seed. Accuracies are on the 1,000-sample test set in "
        "eval mode unless said; intervals are 95% t-intervals over seeds.")
    lines += ["", "| arm | " + " | ".join(f"batch {b}" for b in batch_sizes) + " |",
              "|---|" + "---|" * len(batch_sizes)]
    shown = [*arms, "precise_bn"] if "batchnorm" in have else list(arms)
    for arm in shown:
        cells = [fmt(mean_ci(_acc(per_cell, arm, b)).mean) for b in batch_sizes]
        lines.append(f"| {LABELS[arm]} | " + " | ".join(cells) + " |")
    lines += ["", "### Evidence", ""]
    if {"ewa_forward", "batchnorm"} <= have:
        vs_bn = sentence(cmp("ewa_forward", "batchnorm", small))
        lines.append(f"- Your idea at batch {small}: {est('ewa_forward', small)}; batch norm "
                     f"{est('batchnorm', small)}. {vs_bn}.")
        lines.append(f"- At batch {normal}: {cmp('ewa_forward', 'batchnorm', normal)}.")
        lines.append("- Drift of the biases feeding each norm (norm at the end over the "
                     f"start) at batch {small}: " + compare(
                         paired_diff(per_cell[("ewa_forward", small)]["pre_norm_bias_growth"],
                                     per_cell[("batchnorm", small)]["pre_norm_bias_growth"]),
                         "EWA-forward", "BN", "bias growth") + ".")
        if div.get("ewa_forward", 0) > 0:
            lines.append(f"- {fmt(div['ewa_forward'] * 100, 0)}% of the running-average runs "
                         f"diverged at batch {small}.")
    for a in fixes:
        lines.append(f"- {sentence(cmp(a, 'batchnorm', small))}.")
    if "no_norm" in have and "batchnorm" in have:
        lines.append(f"- {sentence(cmp('batchnorm', 'no_norm', small))}; "
                     f"{cmp('batchnorm', 'no_norm', normal)}.")
    if "batchnorm" in have:
        gap = paired_diff(per_cell[("batchnorm", small)]["train_mode_test_acc"],
                          _acc(per_cell, "batchnorm", small))
        lines.append(
            f"- Train/test discrepancy of batch norm at batch {small}: "
            + compare(gap, "train mode (batch statistics)", "eval mode (running statistics)",
                      "test accuracy") + ".")
        err_small = mean_ci(per_cell[("batchnorm", small)]["running_std_err"])
        err_big = mean_ci(per_cell[("batchnorm", batch_sizes[-1])]["running_std_err"])
        lines.append(
            f"- How far batch norm's running std is from the true std of the training data "
            f"(median relative error): {fmt(err_small.mean)} at batch {small}, "
            f"{fmt(err_big.mean)} at batch {batch_sizes[-1]}.")
        lines.append(f"- Recalibrating batch norm's statistics on the whole training set after "
                     f"training (PreciseBN): {sentence(cmp('precise_bn', 'batchnorm', small))}.")
    lines += ["", "### Why", "",
              "Batch norm computes the mean and variance of the current batch *inside* the "
              "gradient computation, so each gradient step accounts for how the statistics "
              "will move with it. Normalizing with statistics computed outside the gradient "
              "step (such as running averages) lets the optimizer push biases and scales in "
              "directions the next statistics update quietly undoes; Ioffe & Szegedy (2015, "
              "Sec. 2) show the parameters then drift and the model can blow up, and Ioffe "
              "(2017) names this as the reason moving averages cannot simply replace batch "
              "statistics in training.",
              "",
              "Fixes keep the batch statistics in the gradient and correct them: batch "
              "renormalization multiplies by r = sigma_B/sigma and adds d = (mu_B - mu)/sigma "
              "from the running statistics, treated as constants (Ioffe 2017); group norm "
              "avoids batch statistics altogether (Wu & He 2018); recalibrating the running "
              "statistics after training fixes stale averages at test time (Wu & Johnson "
              "2021). Moving averages can work in training only with extra care, e.g. for the "
              "backward statistics as well (MABN, Yan et al. 2020).",
              "", "### Caveats", "",
              f"This is a small network on a small dataset ({seeds} seeds per cell). Shallow "
              "networks tolerate noisy batch statistics better than deep ones, and epoch-matched "
              "small batches take many more steps; with a different learning-rate rule the "
              "ranking at small batch can change. Differences marked as not reliable are "
              "within the seed-to-seed noise of this run."]
    return " ".join(answer), "\n".join(lines) + "\n"


title, question = planned_entry(ID)
QUESTION = QuestionType(ID, title, question, SCHEMA, run)
