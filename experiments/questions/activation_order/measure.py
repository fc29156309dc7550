"""activation_order: train every order x learning rate x seed, and measure the cells.

Where the norm sits is a property of the whole network (models.Block), so each network kind
trains as two batched models: the norm before ReLU (this one also holds the no-normalization
arm, for which the position means nothing) and the norm after it. Learning rates are per
member, so every rate of a model trains at once. All arms start from the same initial weights
per seed and see the same data order, so every comparison pairs by seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ... import datasets, models, probes
from ...result import RunContext
from ...runner import Cells, split_cells
from ...trainer import TrainConfig, Trainer
from .spec import model_spec, norm_of, position_of

PROBE_SAMPLES = 512  # training examples behind the layer-input statistics


@dataclass
class Measured:
    cells: Cells
    # (arm, model, lr) -> (seeds, layers, 3): mean, std, negative fraction of each later
    # layer's input at the end of training
    layer_inputs: dict[tuple[str, str, float], np.ndarray] = field(default_factory=dict)
    steps: int = 0
    probe_samples: int = 0


def positions(arms: list[str]) -> list[str]:
    return list(dict.fromkeys(position_of(a) for a in arms))


def measure(ctx: RunContext, data: datasets.Dataset) -> Measured:
    p = ctx.params
    runs = [(kind, pos) for kind in p["models"] for pos in positions(p["arms"])]
    out = Measured(Cells())
    for i, (kind, pos) in enumerate(runs):
        arms = [a for a in p["arms"] if position_of(a) == pos]
        train_run(ctx, data, kind, pos, arms, i / len(runs), 1 / len(runs), out)
    return out


def train_run(ctx: RunContext, data: datasets.Dataset, kind: str, position: str,
              arms: list[str], done: float, share: float, out: Measured) -> None:
    p = ctx.params
    seeds, lrs = ctx.seeds(), p["lrs"]
    labels = [{"arm": a, "model": kind, "lr": lr} for a in arms for lr in lrs]
    member_seeds = seeds * len(labels)  # group-major: all seeds of each (arm, lr)
    model = models.build(model_spec(p, kind, position), member_seeds, data.n_features,
                         data.n_classes,
                         arms=[models.Arm(norm_of(a), len(seeds) * len(lrs)) for a in arms])
    cfg = TrainConfig(batch_size=p["batch_size"], epochs=p["epochs"], optimizer=p["optimizer"],
                      lr=lrs[0], momentum=p["momentum"], n_evals=4)
    trainer = Trainer(model, data, cfg, member_seeds, ctx.device,
                      lrs=[lab["lr"] for lab in labels for _ in seeds],
                      on_progress=lambda f, msg: ctx.progress(
                          done + share * f, f"{kind}, norm {position} ReLU: {msg}"))
    hist = trainer.run()
    n = probes.probe_size(PROBE_SAMPLES, len(data.y_train), cfg.batch_size)
    inputs = probes.layer_input_stats(trainer.model, trainer.data.x_train[:n], cfg.batch_size)
    metrics = {
        "test_acc": hist.final("test_acc"),
        "train_acc": hist.final("train_acc"),
        "train_loss": hist.final("train_loss"),
        # What the layers after the first receive, averaged over those layers.
        "input_mean": inputs[:, :, 0].mean(1),
        "input_std": inputs[:, :, 1].mean(1),
        "input_negative_frac": inputs[:, :, 2].mean(1),
    }
    cells = split_cells(labels, metrics, hist.diverged, len(seeds), 1.0 / data.n_classes)
    for i, cell in enumerate(cells):
        cell.extra = {"steps": hist.total_steps}
        sl = slice(i * len(seeds), (i + 1) * len(seeds))
        stats = inputs[sl].copy()
        stats[cell.diverged] = np.nan
        lab = labels[i]
        out.layer_inputs[(lab["arm"], kind, lab["lr"])] = stats
    out.cells.add(cells)
    out.steps, out.probe_samples = hist.total_steps, n
