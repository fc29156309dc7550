"""gamma_beta_undo: train every arm x seed, one batched model per optimizer, and measure.

The layer before each norm keeps its bias in every arm, so drift can show. At each evaluation
point the probes record, per layer and unit, gamma and beta next to the batch mean mu_B and
std sigma_B the norm divides out, the norms of the weights and biases feeding each norm, the
moments of what each nonlinearity sees on the fixed probe batch, and Santurkar et al.'s (2018)
internal covariate shift and loss-landscape probes (experiments.landscape).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ... import datasets, landscape, models, probes
from ...result import RunContext
from ...runner import Cell, Cells, split_cells
from ...trainer import History, TrainConfig, Trainer
from .metrics import layer_metrics, over_layers, whole_metrics
from .spec import AFFINE, NORM_OF, PROBE_SAMPLES, main_optimizer

# Metrics that only exist where there are gamma and beta (missing for no normalization).
GAMMA_METRICS = ("undo_distance_start", "undo_distance", "undo_distance_frozen", "undo_scale",
                 "undo_shift", "gamma_end", "gamma_fold", "gamma_over_sigma",
                 "gamma_sigma_corr", "beta_mu_corr")


@dataclass
class Measured:
    # labels {"arm", "optimizer", "layer"}; layer "all" holds the whole-network metrics and
    # the layer metrics averaged over layers
    cells: Cells
    curves: dict[tuple[str, str], dict[str, np.ndarray]] = field(default_factory=dict)
    units: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # main optimizer
    steps: list[int] = field(default_factory=list)  # evaluation points
    probe_samples: int = 0  # samples in the fixed probe batch, as the probes used it


def arms_and_optimizers(p: dict) -> tuple[list[str], list[str]]:
    """The arms and optimizers to run, each once (a repeated name would run it twice)."""
    return list(dict.fromkeys(p["arms"])), list(dict.fromkeys(p["optimizers"]))


def measure(ctx: RunContext, data: datasets.Dataset) -> Measured:
    p = ctx.params
    arms, optimizers = arms_and_optimizers(p)
    out = Measured(Cells(), probe_samples=probes.probe_size(
        PROBE_SAMPLES, len(data.y_train), p["batch_size"]))
    share = 1 / len(optimizers)
    for k, opt in enumerate(optimizers):
        hist = train_optimizer(ctx, data, arms, opt, k * share, share)
        out.steps = hist.steps
        add_cells(out, hist, arms, opt, p, 1.0 / data.n_classes)
        if opt == main_optimizer(optimizers):
            out.units = {arm: unit_values(hist, p["depth"], _slice(j, p["seeds"]))
                         for j, arm in enumerate(arms)}
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
        probes=[probes.WeightNorms(), probes.NormStats(PROBE_SAMPLES),
                probes.UnitMoments(PROBE_SAMPLES), landscape.InternalCovariateShift(p["lr"]),
                landscape.LossLandscape(p["landscape_steps"])],
        on_progress=lambda f, msg: ctx.progress(done + share * f, f"{optimizer}: {msg}"))
    return trainer.run()


def _slice(j: int, n_seeds: int) -> slice:
    return slice(j * n_seeds, (j + 1) * n_seeds)


def add_cells(out: Measured, hist: History, arms: list[str], opt: str, p: dict,
              chance: float) -> None:
    """The cells of one optimizer's run: one per arm and layer, and one per arm for the
    whole network; diverged seeds are scored by experiments.runner."""
    n_seeds, depth = p["seeds"], p["depth"]
    per_layer, layer_curves = zip(*(layer_metrics(hist, i) for i in range(depth)),
                                  strict=True)
    whole, curves = whole_metrics(hist)
    whole = {**over_layers(list(per_layer)), **whole}
    curves.update({k: np.stack([c[k] for c in layer_curves], -1) for k in layer_curves[0]})
    for layer, metrics in [*enumerate(per_layer), ("all", whole)]:
        labels = [{"arm": a, "optimizer": opt, "layer": layer} for a in arms]
        cells = split_cells(labels, metrics, hist.diverged, n_seeds, chance)
        for cell in cells:
            _drop_gamma_metrics(cell)
        out.cells.add(cells)
    for j, arm in enumerate(arms):
        out.curves[(arm, opt)] = {k: v[:, _slice(j, n_seeds)] for k, v in curves.items()}


def _drop_gamma_metrics(cell: Cell) -> None:
    """No gamma or beta, nothing to undo: those metrics are missing, not zero."""
    if cell.labels["arm"] in AFFINE:
        return
    for name in GAMMA_METRICS:
        if name in cell.values:
            cell.values[name] = np.full(cell.n_seeds, np.nan)


def unit_values(hist: History, depth: int, sl: slice) -> dict[str, np.ndarray]:
    """Per layer, gamma and sigma_B of every unit of the arm's seeds at the start and end."""
    out = {}
    for i in range(depth):
        for key in ("gamma", "sigma_B"):
            values = hist.probes[f"layer{i}.{key}"]
            out[f"{i}.{key}.start"] = values[0][sl].ravel()
            out[f"{i}.{key}.end"] = values[-1][sl].ravel()
    return out
