"""small_batch_statistics: train every arm x seed at each batch size, and measure the cells.

All arms and seeds of one batch size train as one batched model, at equal epochs (so small
batches take more steps), except that no batch size trains fewer than `min_steps` steps.
After training, the batch-norm arm is also evaluated with its running statistics recomputed
on the whole training set ("precise" statistics, Wu & Johnson 2021), which separates stale
running averages from a worse network.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from ... import datasets, models, probes
from ...result import RunContext
from ...runner import Cell, Cells, split_cells
from ...sweeps import batch_sizes
from ...trainer import TrainConfig, Trainer
from .spec import arm_spec, scaled_lr, training_steps


@dataclass
class Measured:
    cells: Cells
    # (arm, batch size) -> (evaluation steps, (points, seeds) eval-mode test accuracy)
    curves: dict[tuple[str, int], tuple[list[int], np.ndarray]] = field(default_factory=dict)
    steps: dict[int, int] = field(default_factory=dict)  # batch size -> training steps


def measure(ctx: RunContext, data: datasets.Dataset) -> Measured:
    p = ctx.params
    sizes = batch_sizes(p)
    n = len(data.y_train)
    weights = np.array([training_steps(p, b, n) * b for b in sizes], dtype=float)
    weights /= weights.sum()  # progress share per batch size: work grows with steps x batch
    out = Measured(Cells())
    done = 0.0
    for b, share in zip(sizes, weights, strict=True):
        train_one_size(ctx, data, b, done, share, out)
        done += share
    return out


def train_one_size(ctx: RunContext, data: datasets.Dataset, batch_size: int, done: float,
                   share: float, out: Measured) -> None:
    p = ctx.params
    arms, n_seeds = p["arms"], p["seeds"]
    cfg = TrainConfig(batch_size=batch_size, steps=training_steps(p, batch_size,
                                                                  len(data.y_train)),
                      optimizer=p["optimizer"],
                      lr=scaled_lr(p, batch_size), momentum=p["momentum"], n_evals=8,
                      eval_train_mode=True)
    steps = cfg.total_steps(len(data.y_train))
    spec = models.ModelSpec(kind=p["model"], width=p["width"], depth=p["depth"])
    member_seeds = ctx.seeds() * len(arms)  # the same seeds in every arm: paired comparisons
    model = models.build(spec, member_seeds, data.n_features, data.n_classes,
                         arms=[arm_spec(a, p, steps) for a in arms])
    trainer = Trainer(model, data, cfg, member_seeds, ctx.device,
                      probes=[probes.WeightNorms()],
                      on_progress=lambda f, msg: ctx.progress(
                          done + share * f, f"batch {batch_size}: {msg}"))
    hist = trainer.run()
    extra = probes.running_stat_error(trainer.model, trainer.data.x_train)
    bias = hist.probes["bias_norm"]  # (points, M, layers)
    metrics = {
        "test_acc": hist.final("test_acc"),
        "train_mode_test_acc": hist.final("train_mode_test_acc"),
        "final_train_loss": hist.final("train_loss"),
        "running_mean_err": extra["running_mean_err"],
        "running_std_err": extra["running_std_err"],
        # Drift of the biases feeding each norm: end over start, averaged over layers.
        "pre_norm_bias_growth": (bias[-1] / np.maximum(bias[0], 1e-12)).mean(axis=1),
    }
    chance = 1.0 / data.n_classes
    labels = [{"arm": a, "batch_size": batch_size} for a in arms]
    cells = split_cells(labels, metrics, hist.diverged, n_seeds, chance)
    for cell in cells:
        cell.extra = {"lr": scaled_lr(p, batch_size), "steps": hist.total_steps}
    out.cells.add(cells)
    out.steps[batch_size] = hist.total_steps
    for i, a in enumerate(arms):
        out.curves[(a, batch_size)] = (hist.steps,
                                       hist.metrics["test_acc"][:, i * n_seeds:(i + 1) * n_seeds])
    if "batchnorm" in arms:
        out.cells.add([precise_cell(trainer, arms, n_seeds, batch_size, hist.diverged, chance,
                                    cells[arms.index("batchnorm")].extra)])


def precise_cell(trainer: Trainer, arms: list[str], n_seeds: int, batch_size: int,
                 diverged: np.ndarray, chance: float, extra: dict) -> Cell:
    precise = copy.deepcopy(trainer.model)
    probes.recalibrate(precise, trainer.data.x_train, ("batchnorm",))
    acc = trainer.evaluate_model(precise)["test_acc"].cpu().numpy()
    i = arms.index("batchnorm")
    (cell,) = split_cells([{"arm": "precise_bn", "batch_size": batch_size}],
                          {"test_acc": acc[i * n_seeds:(i + 1) * n_seeds]},
                          diverged[i * n_seeds:(i + 1) * n_seeds], n_seeds, chance)
    cell.extra = dict(extra)
    return cell
