"""deep_gradients: per-layer weight-gradient norms at initialisation and after a short run.

For each depth, the ReLU arms share one batched model and the linear arm has its own (the
activation belongs to the network). Every layer is He-initialised with zero biases; every
member measures on the first training batch of its seed, in train mode (batch statistics),
before and after `train_steps` plain SGD steps, so the two phases pair by seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ... import datasets, models, probes
from ...result import RunContext
from ...runner import Cell, Cells, score_diverged
from ...trainer import TrainConfig, Trainer, data_order
from .spec import arm_spec, groups


@dataclass
class Measured:
    cells: Cells
    train_loss: dict[tuple[str, int], np.ndarray]  # (arm, depth) -> (seeds,) final loss


def growth_per_layer(norms: np.ndarray) -> np.ndarray:
    """(M,) factor by which ||dL/dW|| grows per layer from the last hidden layer back to the
    second: exp(-slope) of a least-squares line through log norms (M, layers) over layers
    2..L. The first layer is left out because its fan-in is the input, not the width."""
    logs = np.log(norms[:, 1:])
    x = np.arange(logs.shape[1], dtype=float)
    x -= x.mean()
    slope = (logs - logs.mean(1, keepdims=True)) @ x / (x @ x)
    return np.exp(-slope)


def measure(ctx: RunContext, data: datasets.Dataset) -> Measured:
    p = ctx.params
    out = Measured(Cells(), {})
    runs = [(d, act, arms) for d in p["depths"] for act, arms in groups(p["arms"])]
    cost = np.array([d * len(arms) for d, _, arms in runs], dtype=float)
    done = np.concatenate([[0.0], np.cumsum(cost)[:-1]]) / cost.sum()
    for (depth, act, arms), start, share in zip(runs, done, cost / cost.sum(), strict=True):
        measure_model(ctx, data, depth, act, arms, start, share, out)
    return out


def first_batches(data: datasets.Dataset, seeds: list[int], batch_size: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Each member's first training batch: (M, B, F) and (M, B)."""
    n = len(data.y_train)
    idx = torch.stack([data_order(s, n, batch_size, 1)[0] for s in seeds])  # (M, B)
    return data.x_train[idx], data.y_train[idx]


def measure_model(ctx: RunContext, data: datasets.Dataset, depth: int, activation: str,
                  arms: list[str], done: float, share: float, out: Measured) -> None:
    p, seeds = ctx.params, ctx.seeds()
    member_seeds = seeds * len(arms)
    spec = models.ModelSpec(kind="mlp", width=p["width"], depth=depth, activation=activation)
    model = models.he_init(models.build(spec, member_seeds, data.n_features, data.n_classes,
                                        arms=[arm_spec(a, p) for a in arms])).to(ctx.device)
    local = data.to(ctx.device)
    x, y = first_batches(local, member_seeds, p["batch_size"])
    init = probes.gradient_norms(model, x, y)["weight_grad_norm"]  # (M, layers)
    cfg = TrainConfig(batch_size=p["batch_size"], steps=p["train_steps"], optimizer="sgd",
                      lr=p["lr"], momentum=0.0, n_evals=1)
    trainer = Trainer(model, data, cfg, member_seeds, ctx.device,
                      on_progress=lambda f, msg: ctx.progress(
                          done + share * f, f"depth {depth}, {activation}: {msg}"))
    hist = trainer.run()
    trained = probes.gradient_norms(trainer.model, x, y)["weight_grad_norm"]
    alive = np.zeros(len(member_seeds), bool)
    for phase, norms, dead in (("init", init, alive), ("trained", trained, hist.diverged)):
        add_cells(out.cells, arms, depth, phase, norms, dead | ~np.isfinite(norms).all(1),
                  len(seeds))
    for i, arm in enumerate(arms):
        out.train_loss[(arm, depth)] = hist.final("train_loss")[i * len(seeds):
                                                                (i + 1) * len(seeds)]


def add_cells(cells: Cells, arms: list[str], depth: int, phase: str, norms: np.ndarray,
              dead: np.ndarray, n_seeds: int) -> None:
    """Cells per (arm, depth, layer, phase) with grad_norm, and per (arm, depth, phase) with
    grad_growth_per_layer; a diverged member's values are missing."""
    with np.errstate(all="ignore"):
        growth = growth_per_layer(norms)
    for i, arm in enumerate(arms):
        sl = slice(i * n_seeds, (i + 1) * n_seeds)
        gone = dead[sl]
        labels = {"arm": arm, "depth": depth, "phase": phase}
        cells.add([Cell({**labels, "layer": None},
                        score_diverged({"grad_growth_per_layer": growth[sl]}, gone, 0.0),
                        gone.copy())])
        for layer in range(norms.shape[1]):
            cells.add([Cell({**labels, "layer": layer + 1},
                            score_diverged({"grad_norm": norms[sl, layer]}, gone, 0.0),
                            gone.copy())])
