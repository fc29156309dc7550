"""learning_rate: train every arm x learning rate x seed with one optimizer, and measure.

All arms and rates of one optimizer train as one batched model (rates are per member), for a
fixed number of steps, with the same seeds in every cell. A seed is *stable* at a rate when
its loss stayed finite and its final training loss fell below its loss at initialisation;
an arm's max stable rate is the largest grid rate at which every seed was stable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ... import datasets, models, norms, probes
from ...result import RunContext
from ...runner import Cell, Cells, split_cells
from ...trainer import TrainConfig, Trainer, member_loss
from .spec import NORMS, grid

LOSS_SAMPLES = 1024  # training examples behind the loss at initialisation


@dataclass
class Measured:
    cells: Cells
    # (arm, optimizer, lr) -> (evaluation steps, (points, seeds) training loss)
    curves: dict[tuple[str, str, float], tuple[list[int], np.ndarray]] = field(
        default_factory=dict)


def measure(ctx: RunContext, data: datasets.Dataset) -> Measured:
    out = Measured(Cells())
    opts = ctx.params["optimizers"]
    for i, opt in enumerate(opts):
        train_optimizer(ctx, data, opt, i / len(opts), 1 / len(opts), out)
    return out


@torch.no_grad()
def initial_loss(model: torch.nn.Module, data: datasets.Dataset, batch_size: int
                 ) -> np.ndarray:
    """(M,) training loss at initialisation, with batch statistics as in training."""
    n = probes.probe_size(LOSS_SAMPLES, len(data.y_train), batch_size)
    m = model.members
    with norms.train_mode_eval(model, batch_size):
        loss = member_loss(model(data.x_train[:n].expand(m, -1, -1)),
                           data.y_train[:n].expand(m, -1))
    return loss.cpu().numpy()


def train_optimizer(ctx: RunContext, data: datasets.Dataset, optimizer: str, done: float,
                    share: float, out: Measured) -> None:
    p = ctx.params
    seeds, lrs, arms = ctx.seeds(), grid(p), p["arms"]
    labels = [{"arm": a, "optimizer": optimizer, "lr": lr} for a in arms for lr in lrs]
    member_seeds = seeds * len(labels)
    spec = models.ModelSpec(kind="mlp", width=p["width"], depth=p["depth"])
    # He initialisation for every arm: the unnormalized network then starts with activations
    # of a stable scale, so a failure at a high rate is the rate's doing, not the init's.
    model = models.he_init(models.build(
        spec, member_seeds, data.n_features, data.n_classes,
        arms=[models.Arm(NORMS[a], len(seeds) * len(lrs)) for a in arms]))
    start = initial_loss(model, data, p["batch_size"])
    cfg = TrainConfig(batch_size=p["batch_size"], steps=p["steps"], optimizer=optimizer,
                      lr=lrs[0], momentum=0.0, n_evals=8)
    trainer = Trainer(model, data, cfg, member_seeds, ctx.device,
                      lrs=[lab["lr"] for lab in labels for _ in seeds],
                      on_progress=lambda f, msg: ctx.progress(done + share * f,
                                                              f"{optimizer}: {msg}"))
    hist = trainer.run()
    final = hist.final("train_loss")
    stable = (~hist.diverged & (final < start)).astype(float)
    metrics = {"final_train_loss": final, "test_acc": hist.final("test_acc"),
               "start_train_loss": start, "stable": stable}
    cells = split_cells(labels, metrics, hist.diverged, len(seeds), 1.0 / data.n_classes)
    for i, cell in enumerate(cells):
        cell.values["stable"] = stable[i * len(seeds):(i + 1) * len(seeds)]  # 0 if diverged
        cell.extra = {"steps": hist.total_steps}
        lab = labels[i]
        out.curves[(lab["arm"], optimizer, lab["lr"])] = (
            hist.steps, hist.metrics["train_loss"][:, i * len(seeds):(i + 1) * len(seeds)])
    out.cells.add(cells)
    for arm in arms:
        out.cells.add([arm_cell(out.cells, arm, optimizer, lrs)])


def arm_cell(cells: Cells, arm: str, optimizer: str, lrs: list[float]) -> Cell:
    """The row with lr = null: the arm's max stable rate (every seed stable), each seed's own
    max stable rate, and the accuracy at the arm's best rate (highest mean test accuracy)."""
    per_lr = [cells.get(arm=arm, optimizer=optimizer, lr=lr) for lr in lrs]
    stable = np.stack([c.values["stable"] for c in per_lr])  # (lrs, seeds)
    seed_max = np.array([max((lr for lr, ok in zip(lrs, col, strict=True) if ok > 0),
                             default=np.nan) for col in stable.T])  # (seeds,)
    every = [lr for lr, s in zip(lrs, stable, strict=True) if s.min() > 0]
    best = max(per_lr, key=lambda c: c.mean("test_acc"))
    return Cell({"arm": arm, "optimizer": optimizer, "lr": None},
                {"seed_max_stable_lr": seed_max,
                 "best_test_acc": best.values["test_acc"]},
                best.diverged.copy(),
                extra={"max_stable_lr": max(every) if every else None,
                       "best_lr": best.labels["lr"], "at_grid_top": bool(every)
                       and max(every) == max(lrs)})
