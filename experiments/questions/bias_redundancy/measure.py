"""bias_redundancy: train each arm with each optimizer from identical weights, and measure.

Whether the layer feeding a norm has a bias is a property of the whole network, so each
optimizer trains two batched models: with biases and without, each holding a batch-norm and a
no-normalization arm. The model without biases starts from a copy of the other's weights and
sees the same data order, so any difference between the two is the bias's doing. At every
evaluation point a probe takes the gradient on the last training batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ... import datasets, models, probes
from ...result import RunContext
from ...runner import Cell, Cells, split_cells
from ...trainer import History, TrainConfig, Trainer
from .spec import ARMS, PAIRS, lr_of

N_EVALS = 20  # evaluation points: the maxima over training are taken over these
LOSS_FLOOR = 1e-12  # a loss difference below this is reported as this (for log scales)
TOLERANCE = 1e-4  # loss difference within float tolerance over a whole run


@dataclass
class Measured:
    cells: Cells
    # (pair, optimizer) -> (evaluation steps, (points, seeds) |loss with - loss without|)
    loss_diffs: dict[tuple[str, str], tuple[list[int], np.ndarray]] = field(
        default_factory=dict)
    # (arm, optimizer) -> (evaluation steps, (points, seeds) max over layers of the ratio)
    grad_ratios: dict[tuple[str, str], tuple[list[int], np.ndarray]] = field(
        default_factory=dict)


def measure(ctx: RunContext, data: datasets.Dataset) -> Measured:
    out = Measured(Cells())
    opts = ctx.params["optimizers"]
    for i, opt in enumerate(opts):
        train_optimizer(ctx, data, opt, i / len(opts), 1 / len(opts), out)
    return out


def build_pair(ctx: RunContext, data: datasets.Dataset, bias_arms: list[str],
               plain_arms: list[str]) -> tuple[models.Network, models.Network]:
    p, seeds = ctx.params, ctx.seeds()

    def build(arms: list[str], bias: bool) -> models.Network:
        spec = models.ModelSpec(kind=p["model"], width=p["width"], depth=p["depth"], bias=bias)
        return models.build(spec, seeds * len(arms), data.n_features, data.n_classes,
                            arms=[models.Arm(ARMS[a][0], len(seeds)) for a in arms])

    with_bias, without = build(bias_arms, True), build(plain_arms, False)
    models.copy_shared_parameters(with_bias, without)
    return with_bias, without


def train_optimizer(ctx: RunContext, data: datasets.Dataset, optimizer: str, done: float,
                    share: float, out: Measured) -> None:
    p, seeds = ctx.params, ctx.seeds()
    pairs = list(PAIRS.values())
    bias_arms, plain_arms = [a for a, _ in pairs], [b for _, b in pairs]
    nets = build_pair(ctx, data, bias_arms, plain_arms)
    cfg = TrainConfig(batch_size=p["batch_size"], steps=p["steps"], optimizer=optimizer,
                      lr=lr_of(p, optimizer), momentum=p["momentum"], n_evals=N_EVALS)
    hists: list[History] = []
    for k, (net, arms) in enumerate(zip(nets, (bias_arms, plain_arms), strict=True)):
        start = [b.layer.bias.detach().clone() for b in net.blocks if b.layer.bias is not None]
        trainer = Trainer(net, data, cfg, seeds * len(arms), ctx.device,
                          probes=[probes.GradientNorms()],
                          on_progress=lambda f, msg, k=k: ctx.progress(
                              done + share * (k + f) / 2, f"{optimizer}: {msg}"))
        hist = trainer.run()
        hists.append(hist)
        out.cells.add(arm_cells(arms, optimizer, hist, trainer.model, start, len(seeds),
                                1.0 / data.n_classes, out))
    out.cells.add(pair_cells(hists, optimizer, len(seeds), out))


def arm_cells(arms: list[str], optimizer: str, hist: History, net: models.Network,
              start: list[torch.Tensor], n_seeds: int, chance: float, out: Measured
              ) -> list[Cell]:
    weight = np.stack(hist.probes["weight_grad_norm"])  # (points, M, layers)
    bias = np.stack(hist.probes["bias_grad_norm"])  # NaN without biases
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (bias / weight).max(axis=2)  # (points, M): the worst layer at each point
    metrics = {"test_acc": hist.final("test_acc"),
               "final_train_loss": hist.final("train_loss"),
               "bias_grad_ratio": ratio.max(axis=0),
               "bias_drift": bias_drift(net, start)}
    labels = [{"arm": a, "optimizer": optimizer} for a in arms]
    cells = split_cells(labels, metrics, hist.diverged, n_seeds, chance)
    for i, a in enumerate(arms):
        out.grad_ratios[(a, optimizer)] = (hist.steps, ratio[:, i * n_seeds:(i + 1) * n_seeds])
        cells[i].extra = {"steps": hist.total_steps, "bias": ARMS[a][1]}
    return cells


@torch.no_grad()
def bias_drift(net: models.Network, start: list[torch.Tensor]) -> np.ndarray:
    """(M,) ||b_end - b_start|| over every bias feeding a norm; NaN without biases."""
    ends = [b.layer.bias for b in net.blocks if b.layer.bias is not None]
    if not ends:
        return np.full(net.members, np.nan)
    moved = torch.cat([(e - s).flatten(1) for e, s in zip(ends, start, strict=True)], 1)
    return moved.norm(dim=1).cpu().numpy()


def steps_matched(steps: list[int], diff: np.ndarray, total: int) -> np.ndarray:
    """(seeds,) the last evaluation step before the loss difference (points, seeds) first
    exceeded TOLERANCE, or every step if it never did."""
    over = diff > TOLERANCE
    before = [0, *steps[1:-1]]  # the evaluation point preceding each stretch
    return np.array([before[int(np.argmax(col))] if col.any() else total for col in over.T],
                    dtype=float)


def pair_cells(hists: list[History], optimizer: str, n_seeds: int, out: Measured
               ) -> list[Cell]:
    """Per pair: the largest |training loss with the bias - without| over the evaluation
    points (mean training loss over each stretch between them), per seed."""
    with_bias, without = (h.metrics["train_loss"][1:] for h in hists)  # (points, M)
    diff = np.maximum(np.abs(with_bias - without), LOSS_FLOOR)
    dead = hists[0].diverged | hists[1].diverged
    cells = []
    for i, pair in enumerate(PAIRS):
        sl = slice(i * n_seeds, (i + 1) * n_seeds)
        out.loss_diffs[(pair, optimizer)] = (hists[0].steps[1:], diff[:, sl])
        (cell,) = split_cells([{"pair": pair, "optimizer": optimizer}],
                              {"max_loss_diff": diff[:, sl].max(axis=0),
                               "steps_matched": steps_matched(hists[0].steps, diff[:, sl],
                                                              hists[0].total_steps)},
                              dead[sl], n_seeds, 0.0)
        with_arm, without_arm = PAIRS[pair]
        cell.extra = {"arm": f"{with_arm}_vs_{without_arm}", "steps": hists[0].total_steps}
        cells.append(cell)
    return cells
