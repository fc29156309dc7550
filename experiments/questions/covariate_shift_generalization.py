"""covariate_shift_generalization: "couldn't a shift in the distribution of features during
training help the network generalize, like training on both black and coloured cats?"

Every kind of shift the question could mean trains side by side in one batched MLP, the same
seeds (initialisation and data order) in every cell, so comparisons are paired by seed:

- a deliberately shifting distribution of hidden features: Santurkar et al.'s (2018, Sec. 2.1)
  noise after batch norm, a random scale and offset per unit redrawn every step plus a little
  per-sample noise (`noisy_batchnorm`), at several levels; and the same noise without any
  normalization (`noisy_no_norm`);
- the randomness batch norm itself adds, because an example's statistics depend on which
  examples share its batch: ghost batch norm over smaller groups inside a fixed batch (Hoffer,
  Hubara & Soudry 2017; Summers & Dinneen 2020);
- shifts of the data, the "cats" of the question (experiments.augment): a random gain and
  offset of the input signal, shared by a whole batch (the input distribution shifts from step
  to step) or drawn per sample (every batch mixes "colours").

Protocol. The noise sits after the norm, before the activation, in every hidden layer but the
last, so every noisy layer feeds another layer rather than the classifier (unless
`noise_last_layer`). After training, every arm with running statistics gets them recomputed on
the whole training set with the noise off (PreciseBN, Wu & Johnson 2021): the running averages
gathered during training saw the noise of the layers below and would not describe the clean
network. Training and test accuracy are then measured the same way for every arm, in eval
mode (no noise, no input shift) on 1,000 training samples and the 1,000 test samples; the
accuracy the optimizer saw (training batches, batch statistics, noise and input shift on) is
reported beside it, and so is the accuracy on a shifted copy of the test set, every example
with its own gain and offset: the "coloured cats" that input variety is meant to prepare for.

Rows: one per cell, with `noise` the level of the arm's shift (after the norm for `noisy_*`,
at the input for `input_*`; 0 where there is none) and `ghost_size` the number of samples
that share batch statistics (the batch size for plain batch norm, None without a norm).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from .. import augment, datasets, figures, models, norms, probes
from ..catalog import QuestionType, planned_entry
from ..errors import ParamError
from ..params import Param, Schema, seeds_param
from ..references import cite
from ..result import Result, RunContext, provenance
from ..stats import (
    Estimate,
    compare,
    direction,
    fmt,
    fmt_ci,
    mean_ci,
    metric_cells,
    paired_diff,
    sentence,
)
from ..trainer import TrainConfig, Trainer, member_accuracy

ID = "covariate_shift_generalization"

ARMS = ("batchnorm", "no_norm", "noisy_batchnorm", "noisy_no_norm", "ghost_batchnorm",
        "input_shift", "input_augment", "input_shift_no_norm")
NOISY = ("noisy_batchnorm", "noisy_no_norm")  # one cell per noise level
INPUT = {"input_shift": "batch", "input_augment": "sample", "input_shift_no_norm": "batch"}
NORM_OF = {"batchnorm": "batchnorm", "no_norm": "none", "noisy_batchnorm": "noisy_batchnorm",
           "noisy_no_norm": "noisy_none", "ghost_batchnorm": "ghost_batchnorm",
           "input_shift": "batchnorm", "input_augment": "batchnorm",
           "input_shift_no_norm": "none"}
RUNNING_STAT_NORMS = ("batchnorm", "noisy_batchnorm", "ghost_batchnorm")
LABELS = {
    "batchnorm": "batch norm",
    "no_norm": "no normalization",
    "noisy_batchnorm": "batch norm + shifting noise",
    "noisy_no_norm": "no norm + shifting noise",
    "ghost_batchnorm": "ghost batch norm",
    "input_shift": "batch norm, input shifted per batch",
    "input_augment": "batch norm, input changed per sample",
    "input_shift_no_norm": "no norm, input shifted per batch",
}
SHORT = {"batchnorm": "BN", "no_norm": "no norm", "noisy_batchnorm": "BN+noise",
         "noisy_no_norm": "no norm+noise", "ghost_batchnorm": "ghost BN",
         "input_shift": "BN+batch input shift", "input_augment": "BN+per-sample input change",
         "input_shift_no_norm": "no norm+batch input shift"}

TEST_SHIFT_SEED = 20_181_105  # fixes the "coloured cats" test set, the same for every member
N_EVALS = 10  # evaluation points after step 0, for the activation figure
OPTIMIZER_NAMES = {"adam": "Adam", "sgd": "SGD with momentum"}

SCHEMA = Schema(
    params=(
        seeds_param(10),
        Param("arms", "str_list", list(ARMS), "arms to compare", choices=ARMS,
              max_len=len(ARMS)),
        Param("noise_levels", "float_list", [1.0, 3.0, 5.0],
              "level n of the shifting noise: per step and unit, scale ~ U(1, 1+n) and "
              "offset ~ U(-n, n) after the norm", min=0.05, max=20.0, max_len=6),
        Param("sample_noise", "float", 0.1,
              "std of the per-sample Gaussian noise added with the shifting noise",
              min=0.0, max=5.0),
        Param("noise_last_layer", "bool", False,
              "also add the noise in the last hidden layer, where it reaches the classifier "
              "directly"),
        Param("ghost_sizes", "int_list", [4, 8, 16, 32],
              "ghost batch sizes: batch statistics over groups of this many samples "
              "(each must divide batch_size and be smaller)", min=2, max=512, max_len=8),
        Param("input_shift_levels", "float_list", [1.0],
              "level n of the input shift: gain ~ U(1, 1+n), offset ~ U(-n, n), in units of "
              "the standardized input", min=0.05, max=10.0, max_len=4),
        Param("test_shift", "float", 1.0,
              "level of the per-sample gain and offset of the shifted test set "
              "(the 'coloured cats' seen only at test time)", min=0.0, max=10.0),
        Param("width", "int", 256, "hidden units per layer", min=8, max=1024),
        Param("depth", "int", 3, "hidden layers, each linear -> norm -> ReLU", min=2, max=6),
        Param("batch_size", "int", 128, "training batch size", min=8, max=1024),
        Param("epochs", "int", 60, "training epochs", min=1, max=500),
        Param("optimizer", "str", "adam", "optimizer", choices=("adam", "sgd")),
        Param("lr", "float", 1e-3, "learning rate", min=1e-5, max=1.0),
        Param("momentum", "float", 0.9, "SGD momentum", min=0.0, max=0.99),
        Param("num_samples", "int", 5000, "MNIST-1D samples (80% train, 20% test)",
              min=500, max=50000),
    ),
    presets={
        "smoke": {"seeds": 2, "noise_levels": [3.0], "ghost_sizes": [8], "width": 16,
                  "depth": 2, "batch_size": 32, "epochs": 1, "num_samples": 1000},
        "quick": {"seeds": 4, "arms": [a for a in ARMS if a != "input_shift_no_norm"],
                  "noise_levels": [1.0, 3.0], "ghost_sizes": [4, 16], "width": 64,
                  "epochs": 40},
        "full": {"seeds": 10},
    },
)


@dataclass(frozen=True)
class Cell:
    """One measured cell: an arm at one noise level (or ghost size); `seeds` members each."""

    arm: str
    noise: float = 0.0
    ghost_size: int | None = None

    @property
    def name(self) -> str:
        if self.ghost_size is not None:
            return f"{SHORT[self.arm]} g={self.ghost_size}"
        return f"{SHORT[self.arm]} n={self.noise:g}" if self.noise else SHORT[self.arm]


def check(p: dict) -> None:
    """Constraints between parameters, which the schema's per-value limits cannot express."""
    b = p["batch_size"]
    bad = [g for g in p["ghost_sizes"] if b % g or g >= b]
    if "ghost_batchnorm" in p["arms"] and bad:
        raise ParamError("ghost_sizes", f"{', '.join(map(str, bad))} must divide the batch "
                         f"size {b} and be smaller (ghost size {b} is the batchnorm arm)")
    if b > 0.8 * p["num_samples"]:
        raise ParamError("batch_size", f"{b} is larger than the training set")


def cells_of(p: dict) -> list[Cell]:
    out: list[Cell] = []
    for arm in dict.fromkeys(p["arms"]):  # a repeated name would train the same arm twice
        if arm in NOISY:
            out += [Cell(arm, float(n)) for n in sorted(set(p["noise_levels"]))]
        elif arm == "ghost_batchnorm":
            out += [Cell(arm, ghost_size=g) for g in sorted(set(p["ghost_sizes"]))]
        elif arm in INPUT:
            out += [Cell(arm, float(n)) for n in sorted(set(p["input_shift_levels"]))]
        else:
            out.append(Cell(arm))
    return out


def norm_arm(cell: Cell, p: dict) -> models.Arm:
    seeds = p["seeds"]
    if cell.arm in NOISY:
        return models.Arm(NORM_OF[cell.arm], seeds,
                          {"level": cell.noise, "sample_noise": p["sample_noise"]})
    if cell.arm == "ghost_batchnorm":
        return models.Arm("ghost_batchnorm", seeds, {"ghost_size": cell.ghost_size})
    return models.Arm(NORM_OF[cell.arm], seeds)


def merged(arms: list[models.Arm]) -> list[models.Arm]:
    """Neighbouring arms with the same norm and options become one: fewer splits per layer."""
    out: list[models.Arm] = []
    for a in arms:
        if out and (out[-1].norm, out[-1].options) == (a.norm, a.options):
            out[-1] = models.Arm(a.norm, out[-1].members + a.members, a.options)
        else:
            out.append(a)
    return out


def silence_last_layer(model: models.Network) -> None:
    """Noise off in the last hidden layer, whose output goes straight to the classifier."""
    for m in model.blocks[-1].modules():
        if isinstance(m, norms.NoisyBatchNorm | norms.NoisyNoNorm):
            m.noise_enabled = False


def run(ctx: RunContext) -> Result:
    check(ctx.params)
    devices = [ctx.device] if ctx.device.type == "cuda" else []
    # The noise and the input shifts draw from torch's global generator: seed it for a
    # reproducible run without disturbing the caller's random state.
    with torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(0)
        if devices:
            torch.cuda.manual_seed(0)  # the current device, which a bare "cuda" means
        return _run(ctx)


def _run(ctx: RunContext) -> Result:
    p = ctx.params
    data = datasets.load("mnist1d", num_samples=p["num_samples"])
    cells = cells_of(p)
    n_seeds = p["seeds"]
    member_seeds = ctx.seeds() * len(cells)  # the same seeds in every cell: paired comparisons
    members = len(member_seeds)
    spec = models.ModelSpec(kind="mlp", width=p["width"], depth=p["depth"])
    model = models.build(spec, member_seeds, data.n_features, data.n_classes,
                         arms=merged([norm_arm(c, p) for c in cells]))
    if not p["noise_last_layer"]:
        silence_last_layer(model)
    shifts = [augment.ShiftArm(slice(i * n_seeds, (i + 1) * n_seeds), c.noise, INPUT[c.arm])
              for i, c in enumerate(cells) if c.arm in INPUT]
    transform = augment.InputShift(members, shifts, ctx.device) if shifts else None
    cfg = TrainConfig(batch_size=p["batch_size"], epochs=p["epochs"], optimizer=p["optimizer"],
                      lr=p["lr"], momentum=p["momentum"], n_evals=N_EVALS)
    trainer = Trainer(model, data, cfg, member_seeds, ctx.device,
                      probes=[probes.ActivationStats()], batch_transform=transform,
                      on_progress=lambda f, msg: ctx.progress(0.9 * f, f"training: {msg}"))
    hist = trainer.run()
    ctx.progress(0.9, "recomputing eval statistics without noise")
    final = measure(trainer, transform, p)
    final["final_train_loss"] = hist.final("train_loss")
    dead = hist.diverged
    rows, per_cell = [], {}
    for i, c in enumerate(cells):
        sl = slice(i * n_seeds, (i + 1) * n_seeds)
        values = {k: np.where(dead[sl], np.nan, v[sl]) for k, v in final.items()}
        values["gap"] = values["train_acc"] - values["test_acc"]
        cell = {k: values[k] for k in ("train_acc", "test_acc", "gap", "train_mode_train_acc",
                                       "shifted_test_acc", "final_train_loss")}
        per_cell[c] = cell
        ghost = c.ghost_size if c.arm == "ghost_batchnorm" else (
            p["batch_size"] if NORM_OF[c.arm] in RUNNING_STAT_NORMS else None)
        rows.append({"arm": c.arm, "noise": c.noise, "ghost_size": ghost,
                     "steps": hist.total_steps, **metric_cells(cell),
                     "diverged": float(dead[sl].mean())})
    ctx.progress(0.95, "figures and summary")
    figs = [figure_accuracy(ctx, rows, p), figure_ghost(ctx, rows, p),
            figure_activations(ctx, hist, cells, p)]
    answer, summary = write_up(p, cells, per_cell)
    return Result(
        question_type=ID, title=QUESTION.title, answer=answer, summary_markdown=summary,
        params=p, preset=ctx.preset, rows=rows, figures=[f for f in figs if f is not None],
        references=cite("santurkar2018", "hoffer2017", "summers2020", "luo2019", "teye2018",
                        "ioffe2015", "wu2021", "greydanus2020"),
        provenance=provenance(ctx, data.describe()))


@torch.no_grad()
def measure(trainer: Trainer, transform: augment.InputShift | None, p: dict
            ) -> dict[str, np.ndarray]:
    """(M,) end-of-training metrics, every arm measured the same way (module docstring)."""
    data, m = trainer.data, trainer.members
    clean = copy.deepcopy(trainer.model)
    probes.recalibrate(clean, data.x_train, RUNNING_STAT_NORMS)
    out = {k: v.cpu().numpy() for k, v in trainer.evaluate_model(clean).items()
           if k in ("train_acc", "test_acc")}
    g = torch.Generator().manual_seed(TEST_SHIFT_SEED)
    x_test = augment.shift_samples(data.x_test, p["test_shift"], g)  # (N_test, F)
    clean.eval()
    out["shifted_test_acc"] = member_accuracy(
        clean(x_test.expand(m, -1, -1)), data.y_test.expand(m, -1)).cpu().numpy()
    out["train_mode_train_acc"] = accuracy_as_trained(trainer, transform)
    return out


@torch.no_grad()
def accuracy_as_trained(trainer: Trainer, transform: augment.InputShift | None) -> np.ndarray:
    """(M,) accuracy on training samples as the optimizer saw them: batches of the training
    size, batch statistics (ghost groups for ghost arms), noise and input shift on."""
    model, data, cfg = trainer.model, trainer.data, trainer.config
    b = cfg.batch_size
    k = max(1, min(cfg.train_eval_samples, len(data.y_train)) // b)
    hits = []
    with norms.train_mode_eval(model, None):
        for j in range(k):
            x = data.x_train[j * b:(j + 1) * b].expand(trainer.members, -1, -1)  # (M, B, F)
            y = data.y_train[j * b:(j + 1) * b].expand(trainer.members, -1)
            hits.append(member_accuracy(model(x if transform is None else transform(x)), y))
    return torch.stack(hits).mean(0).cpu().numpy()


# -- figures ------------------------------------------------------------------------------
LINE_ARMS = ("batchnorm", "no_norm", "input_shift", "input_augment", "input_shift_no_norm")
FAMILY = {"noisy_batchnorm": "batchnorm", "noisy_no_norm": "no_norm",
          "input_shift": "batchnorm", "input_augment": "batchnorm",
          "input_shift_no_norm": "no_norm"}  # the arm each family starts from at level 0


def _series(rows: list[dict], arm: str, key: str, x_key: str, base: str | None = None
            ) -> np.ndarray:
    """(4, n) x, mean, lo, hi over the arm's cells, with its base arm's cell at x = 0."""
    pick = [r for r in rows if r["arm"] == arm or (base is not None and r["arm"] == base)]
    pts = sorted((r[x_key] if r["arm"] == arm else 0.0, r[key], *r[f"{key}_ci95"])
                 for r in pick if r.get(key) is not None)
    arr = np.array([[np.nan if v is None else v for v in t] for t in pts], dtype=float)
    return arr.T if len(arr) else np.empty((4, 0))


def figure_accuracy(ctx, rows, p):
    arms = [a for a in ("noisy_batchnorm", "noisy_no_norm", *INPUT) if a in p["arms"]]
    # A base arm none of whose noisy variants ran is shown on its own, as a point at level 0.
    arms += [a for a in ("batchnorm", "no_norm")
             if a in p["arms"] and not any(FAMILY[f] == a for f in arms)]
    if not arms:
        return None
    fig, axes = figures.subplots(ncols=2, height=3.4, sharey=True)
    for ax, key, what in ((axes[0, 0], "train_acc", "training"), (axes[0, 1], "test_acc",
                                                                   "test")):
        for i, arm in enumerate(arms):
            base = FAMILY.get(arm) if FAMILY.get(arm) in p["arms"] else None
            x, mean, lo, hi = _series(rows, arm, key, "noise", base)
            figures.band(ax, x, mean, lo, hi, LABELS[arm], i, clip=(0, 1),
                         linestyle="--" if arm in INPUT else "-")
        ax.set_xlabel("noise level n (0 = the arm without noise)")
        ax.set_title(f"{what.capitalize()} accuracy (eval mode)")
    axes[0, 0].set_ylabel("accuracy")
    figures.legend_below(axes[0, 0], ncol=2)
    return figures.save(fig, ctx, "accuracy_vs_noise",
                        "Training (1,000 training samples) and test accuracy in eval mode, "
                        "noise off, against the noise level: solid lines shift hidden features "
                        "after the norm, dashed lines shift the inputs; level 0 is the same "
                        "network without noise. Bands are 95% CIs over seeds.")


def figure_ghost(ctx, rows, p):
    if "ghost_batchnorm" not in p["arms"]:
        return None
    fig, axes = figures.subplots(ncols=2, height=3.2)
    b = p["batch_size"]
    ghost = [r for r in rows if r["arm"] == "ghost_batchnorm"]
    whole = [r for r in rows if r["arm"] == "batchnorm"]
    pts = sorted(ghost + whole, key=lambda r: r["ghost_size"])
    plain = [r for r in rows if r["arm"] == "no_norm"]
    colour = {"gap": 2, "train_acc": 0, "test_acc": 1}
    for ax, keys in ((axes[0, 0], ("gap",)), (axes[0, 1], ("train_acc", "test_acc"))):
        for key in keys:
            x, mean, lo, hi = np.array(
                [[r["ghost_size"], r[key], *r[f"{key}_ci95"]] for r in pts], dtype=float).T
            what = key.replace("_acc", " accuracy")
            figures.band(ax, x, mean, lo, hi, f"ghost / batch norm, {what}", colour[key],
                         clip=(-1, 1) if key == "gap" else (0, 1))
            if plain and plain[0].get(key) is not None:
                ax.axhline(plain[0][key], color=figures.colour(colour[key]), linestyle=":",
                           linewidth=1, label=f"no norm, {what}")
        figures.batch_axis(ax, sorted({r["ghost_size"] for r in pts}))
        ax.set_xlabel(f"ghost batch size g ({b} = plain BN)")
    # One legend, below, from the accuracy panel; the gap panel's axis label says what it shows.
    figures.legend_below(axes[0, 1], ncol=2)
    axes[0, 0].set_ylabel("train - test accuracy")
    axes[0, 0].set_title("Generalization gap")
    axes[0, 1].set_ylabel("accuracy (eval mode)")
    axes[0, 1].set_title("Training and test accuracy")
    return figures.save(fig, ctx, "gap_vs_ghost_size",
                        "Ghost batch norm: batch statistics over groups of g samples inside "
                        f"each batch of {b}; smaller groups mean noisier statistics. Bands are "
                        "95% CIs over seeds; dotted lines are the network without a norm.")


def figure_activations(ctx, hist, cells, p):
    """What each nonlinearity sees over training, BN against BN with the strongest noise."""
    noisy = [c for c in cells if c.arm == "noisy_batchnorm"]
    shown = [c for c in cells if c.arm == "batchnorm"] + noisy[-1:]
    if not shown:
        return None
    stats = np.stack(hist.probes["activation_stats"])  # (T, M, layers, 5): mean, std, 15/50/85
    depth = stats.shape[2]
    fig, axes = figures.subplots(ncols=depth, height=3.0, sharey=True)
    n_seeds = p["seeds"]
    for layer in range(depth):
        ax = axes[0, layer]
        for k, c in enumerate(shown):
            member = cells.index(c) * n_seeds  # the first seed: one network, as trained
            for j in range(len(probes.PERCENTILES)):
                ax.plot(hist.steps, stats[:, member, layer, 2 + j], color=figures.colour(k),
                        linestyle=("--", "-", "--")[j], linewidth=1.2,
                        label=f"{c.name}" if j == 1 else None)
        quiet = layer == depth - 1 and not p["noise_last_layer"]
        ax.set_title(f"layer {layer + 1}" + (" (no noise)" if quiet else ""))
        ax.set_xlabel("training step")
    axes[0, 0].set_ylabel("input to ReLU: 15/50/85th pct")
    figures.legend_below(axes[0, 0], ncol=2)
    return figures.save(fig, ctx, "activation_percentiles",
                        "15th, 50th (solid) and 85th (dashed) percentiles of what each ReLU "
                        "sees on a fixed set of training samples, in train mode with the noise "
                        "on, for the first seed: plain batch norm against batch norm with the "
                        "strongest noise, whose distribution jumps from step to step.")


# -- the write-up ---------------------------------------------------------------------------
def write_up(p: dict, cells: list[Cell], per_cell: dict[Cell, dict]) -> tuple[str, str]:
    have = {c.arm for c in cells}
    seeds = p["seeds"]
    bn, plain = Cell("batchnorm"), Cell("no_norm")

    def v(c: Cell, key: str = "test_acc") -> np.ndarray:
        return per_cell[c][key]

    def m(c: Cell, key: str = "test_acc") -> str:
        return fmt(mean_ci(v(c, key)).mean)

    def d(a: Cell, b: Cell, key: str = "test_acc") -> Estimate:
        return paired_diff(v(a, key), v(b, key))

    def cmp(a: Cell, b: Cell, key: str = "test_acc", metric: str = "test accuracy") -> str:
        return compare(d(a, b, key), a.name, b.name, metric)

    def signed(e: Estimate) -> str:
        return (f"{'+' if e.mean >= 0 else ''}{fmt(e.mean)}, 95% CI {fmt(e.lo)} to "
                f"{fmt(e.hi)}")

    noisy = [c for c in cells if c.arm == "noisy_batchnorm"]
    noisy_plain = [c for c in cells if c.arm == "noisy_no_norm"]
    ghosts = [c for c in cells if c.arm == "ghost_batchnorm"]
    answer: list[str] = []
    noise_helped = False

    if noisy and "batchnorm" in have:
        best = max(noisy, key=lambda c: mean_ci(v(c)).mean)
        helped = [c for c in noisy if direction(d(c, bn)) > 0]
        hurt = [c for c in noisy if direction(d(c, bn)) < 0]
        noise_helped = bool(helped)
        if helped:
            gap = d(best, bn, "gap")
            answer.append(
                f"In this run, yes, a shifting distribution of hidden features did help: "
                f"rescaling and shifting every hidden unit of a batch-norm network at random at "
                f"each training step (noise level {best.noise:g}) raised test accuracy "
                f"from {m(bn)} to {m(best)} ({signed(d(best, bn))}, {seeds} seeds)"
                + (f" and shrank the train-test gap from {m(bn, 'gap')} to {m(best, 'gap')}"
                   + (f", mostly by fitting the training set less closely (training accuracy "
                      f"{m(bn, 'train_acc')} to {m(best, 'train_acc')})"
                      if abs(d(best, bn, "train_acc").mean) > abs(d(best, bn).mean) else "")
                   if direction(gap) < 0 else "")
                + (f", while the strongest noise cost test accuracy instead ({m(hurt[-1])} at "
                   f"level {hurt[-1].noise:g})" if hurt else "") + ".")
        elif hurt:
            answer.append(
                f"In this run, no: rescaling and shifting every hidden unit of a batch-norm "
                f"network at random at each training step lowered test accuracy (from "
                f"{m(bn)} to {m(hurt[0])} at noise level {hurt[0].noise:g}) and helped "
                f"at no level tried.")
        else:
            answer.append(
                f"Not measurably in this run: rescaling and shifting every hidden unit of a "
                f"batch-norm network at random at each training step (noise level"
                f"{'s' if len(noisy) > 1 else ''} {', '.join(f'{c.noise:g}' for c in noisy)}) "
                f"left test accuracy within the "
                f"seed-to-seed noise of batch norm's {m(bn)} (best {m(best)}, "
                f"{signed(d(best, bn))}).")

    what_bn_does: list[str] = []
    shifted = [c for c in cells if c.arm == "input_shift"]
    if shifted and "batchnorm" in have:
        s = shifted[0]
        ds = direction(d(s, bn))
        if ds == 0:
            text = (f"is removed by batch norm's own batch statistics, and shifting the inputs "
                    f"that way made no reliable difference ({m(s)} vs {m(bn)} test accuracy)")
        else:
            text = (f"is removed in training by batch norm's own batch statistics, yet here "
                    f"it {'raised' if ds > 0 else 'lowered'} test accuracy ({m(s)} vs {m(bn)})")
        what_bn_does.append("a gain and offset shared by a whole batch, the literal shifting "
                            "input distribution, " + text)
    if ghosts and "batchnorm" in have:
        best_g = max(ghosts, key=lambda c: mean_ci(v(c)).mean)
        smallest = ghosts[0]
        dg = d(best_g, bn)
        if direction(dg) > 0:
            text = (f"normalizing over ghost batches of {best_g.ghost_size} instead of "
                    f"{p['batch_size']} raised test accuracy from {m(bn)} to {m(best_g)}")
        else:
            text = (f"ghost batches of {', '.join(str(c.ghost_size) for c in ghosts)} did not "
                    f"raise test accuracy reliably (best {m(best_g)} vs {m(bn)})")
        if direction(d(smallest, bn)) < 0 and smallest is not best_g:
            text += f", and groups of {smallest.ghost_size} hurt ({m(smallest)})"
        what_bn_does.append("the randomness batch norm adds on its own comes from which "
                            "examples share a batch: " + text)
    if what_bn_does:
        lead = ("That is noise acting as a regularizer, not what batch norm does with shifts: "
                if noise_helped else "Batch norm itself does not work through such shifts: ")
        answer.append(lead + "; ".join(what_bn_does) + ".")

    aug = [c for c in cells if c.arm == "input_augment"]
    if aug and "batchnorm" in have:
        a = aug[0]
        ds, dc = d(a, bn, "shifted_test_acc"), d(a, bn)
        verdict = {1: "helped", 0: "made no reliable difference", -1: "hurt"}
        answer.append(
            f"The black-and-coloured-cats kind of variety is data augmentation: giving every "
            f"training example its own random gain and offset {verdict[direction(ds)]} on test "
            f"data that vary the same way ({m(a, 'shifted_test_acc')} vs "
            f"{m(bn, 'shifted_test_acc')}) and {verdict[direction(dc)]} on the clean test set "
            f"({m(a)} vs {m(bn)}).")
    if len(answer) < 2:
        answer.append(
            "Test accuracy per arm: " + "; ".join(f"{c.name} {m(c)}" for c in cells)
            + f" (means over {seeds} seeds, eval mode, noise off).")
    if "batchnorm" not in have:
        answer.append("The comparisons that answer the question are made against plain batch "
                      "norm, so they need the batchnorm arm.")

    lines = [f"## {QUESTION.title}", "", "**Short answer.** " + " ".join(answer), "",
             "### What was measured", ""]
    noise_where = ("every hidden layer" if p["noise_last_layer"]
                   else "every hidden layer but the last (so the classifier never sees it "
                        "directly)")
    lines.append(
        f"An MLP ({p['depth']} hidden layers of {p['width']} ReLU units) on MNIST-1D, "
        f"{p['epochs']} epoch{'s' if p['epochs'] != 1 else ''} at batch size "
        f"{p['batch_size']}, {OPTIMIZER_NAMES[p['optimizer']]} at learning rate "
        f"{p['lr']:g}; {seeds} seeds per cell, the same seeds (initialisation "
        f"and data order) in every cell, so differences are paired by seed. "
        f"Shifting noise (Santurkar et al. 2018): after the norm and before the ReLU in "
        f"{noise_where}, every unit's output is multiplied by a scale drawn from U(1, 1+n) and "
        f"shifted by an offset from U(-n, n), both redrawn at every step and shared by the "
        f"whole batch, plus per-sample Gaussian noise of std {p['sample_noise']:g}. Input "
        f"shifts apply the same kind of gain and offset to the whole input signal, drawn once "
        f"per batch or once per sample. After training, every arm with running statistics "
        f"had them recomputed on the training set with the noise off, because the running "
        f"averages gathered during training saw the noise of the layers below. Training and "
        f"test accuracy are then measured alike for every arm: eval mode, no noise, no input "
        f"shift, on 1,000 training samples and the 1,000 test samples; the gap is their "
        f"difference per seed. 'As trained' is the accuracy on training batches with batch "
        f"statistics and the noise on, as the optimizer saw them. The shifted test set gives "
        f"every test example its own gain and offset of level {p['test_shift']:g} (the "
        f"'coloured cats' at test time). Intervals are 95% t-intervals over seeds.")
    lines += ["", "| arm | level | train acc | test acc | gap | as trained | shifted test |",
              "|---|---|---|---|---|---|---|"]
    for c in cells:
        level = (f"g={c.ghost_size}" if c.ghost_size is not None
                 else (f"{c.noise:g}" if c.noise else "-"))
        cols = [m(c, k) for k in ("train_acc", "test_acc", "gap", "train_mode_train_acc",
                                  "shifted_test_acc")]
        lines.append(f"| {LABELS[c.arm]} | {level} | " + " | ".join(cols) + " |")

    lines += ["", "### Evidence", ""]
    trained = "train_mode_train_acc"
    if "batchnorm" in have:
        lines.append(f"- Batch norm: training accuracy {fmt_ci(mean_ci(v(bn, 'train_acc')))}, "
                     f"test {fmt_ci(mean_ci(v(bn)))}.")
        if "no_norm" in have:
            lines.append(f"- With and without batch norm: {cmp(bn, plain)}; "
                         f"{cmp(bn, plain, 'gap', 'train-test gap')}.")
        for c in noisy:
            lines.append(f"- {sentence(cmp(c, bn))}; {cmp(c, bn, 'gap', 'train-test gap')}; "
                         f"{cmp(c, bn, 'train_acc', 'training accuracy')}.")
            lines.append(
                f"- Training under noise level {c.noise:g}, accuracy on training batches as "
                f"trained (Santurkar et al.'s comparison): {c.name} "
                f"{fmt_ci(mean_ci(v(c, trained)))}, BN without noise "
                f"{fmt_ci(mean_ci(v(bn, trained)))}; "
                f"{cmp(c, bn, trained, 'accuracy as trained')}.")
        for c in ghosts:
            lines.append(f"- {sentence(cmp(c, bn))}; {cmp(c, bn, 'gap', 'train-test gap')}.")
        for c in shifted:
            lines.append(f"- {sentence(cmp(c, bn))}.")
        for c in aug:
            lines.append(f"- {sentence(cmp(c, bn, 'shifted_test_acc', 'shifted test accuracy'))}; "
                         f"{cmp(c, bn)}.")
    for c in noisy:
        twin = Cell("noisy_no_norm", c.noise)
        if twin in per_cell:
            lines.append(
                f"- The same noise without a norm: {twin.name} "
                f"{fmt_ci(mean_ci(v(twin, trained)))} as trained; "
                f"{cmp(c, twin, trained, 'accuracy as trained')}.")
    if "no_norm" in have:
        for c in noisy_plain:
            lines.append(f"- {sentence(cmp(c, plain))}.")
        for c in (c for c in cells if c.arm == "input_shift_no_norm"):
            lines.append(f"- {sentence(cmp(c, plain))}; "
                         f"{cmp(c, plain, 'shifted_test_acc', 'shifted test accuracy')}.")

    lines += ["", "### Why", "",
              "Santurkar et al. (2018, Sec. 2.1) injected exactly this kind of noise after "
              "batch-norm layers to test the idea that batch norm works by keeping layer "
              "inputs stable: their noisy batch-norm network trained about as well as the "
              "plain batch-norm one and better than the network without it, so a stable "
              "distribution is not what batch norm buys." + noise_cost(per_cell, noisy)
              + " Whether such noise also helps test accuracy is a "
              "separate matter: random perturbations of hidden units during training are a "
              "known regularizer, in the family of dropout, and they cost training accuracy "
              "when strong.",
              "",
              "Batch norm does not feed a network shifting distributions: a shift or scale "
              "shared by every example of a batch is exactly what subtracting the batch mean "
              "and dividing by the batch standard deviation removes. Its regularizing noise "
              "is of another kind: each example is normalized with statistics that depend on "
              "the other examples drawn with it, so the same example looks slightly different "
              "every time. Ghost batch norm (Hoffer, Hubara & Soudry 2017) sets how much of "
              "that noise there is by normalizing over smaller groups inside a batch; Summers "
              "& Dinneen (2020) report that it helps at small and medium batch sizes too. "
              "Luo et al. (2019) split batch norm into normalization with population "
              "statistics plus an explicit regularizer whose strength depends on "
              "the batch size, and Teye et al. (2018) read the same randomness as approximate "
              "Bayesian inference.",
              "",
              "The cats in the question are a data-level difference between training and test "
              "images. Variety in the training data (black and coloured cats in the same "
              "training set) teaches the network to ignore colour, which pays off on test "
              "data that vary that way; it is augmentation, and it is not what the internal "
              "covariate shift of Ioffe & Szegedy (2015) refers to.",
              "", "### Caveats", "",
              f"A small MLP on a small dataset ({seeds} seeds per cell; the test set has 1,000 "
              "samples, so one model's test accuracy has a standard error of about 1.5 "
              "points). The best noise level or ghost size is picked from the same run it is "
              "reported from, so its advantage is slightly optimistic. The noise levels are "
              "Santurkar et al.'s kind of noise, but their exact distribution and their "
              "network (VGG on CIFAR-10) differ. Differences marked as not reliable are "
              "within the seed-to-seed noise of this run."
              + (f" The shifting noise also has a small per-sample part (std "
                 f"{p['sample_noise']:g}); sample_noise=0 leaves a pure shift."
                 if p["sample_noise"] > 0 and noisy else "")]
    return " ".join(answer), "\n".join(lines) + "\n"


def noise_cost(per_cell: dict[Cell, dict], noisy: list[Cell]) -> str:
    """Santurkar et al.'s comparison in this run: how much accuracy as trained the noise took
    from batch norm and from the network without a norm, paired by seed."""
    bn, plain = Cell("batchnorm"), Cell("no_norm")
    key = "train_mode_train_acc"
    parts = []
    for c in noisy:
        twin = Cell("noisy_no_norm", c.noise)
        if not {bn, plain, twin} <= set(per_cell):
            continue
        loss_bn = per_cell[bn][key] - per_cell[c][key]  # (seeds,)
        loss_plain = per_cell[plain][key] - per_cell[twin][key]
        diff = paired_diff(loss_bn, loss_plain)
        ci = f"difference {fmt(diff.mean)}, 95% CI {fmt(diff.lo)} to {fmt(diff.hi)}"
        verdict = {-1: f"batch norm absorbed it better, as in their experiment ({ci})",
                   0: f"no reliable difference between the two ({ci})",
                   1: f"batch norm lost more, unlike in their experiment ({ci})"}
        parts.append(f"at level {c.noise:g} the noise took {fmt(mean_ci(loss_bn).mean)} off "
                     f"batch norm's accuracy as trained and {fmt(mean_ci(loss_plain).mean)} off "
                     f"the network without a norm: {verdict[direction(diff)]}")
    return (" In this run, " + "; ".join(parts) + ".") if parts else ""


title, question = planned_entry(ID)
QUESTION = QuestionType(ID, title, question, SCHEMA, run)
