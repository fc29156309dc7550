"""norm_comparison: every arm x seed of one model and batch size trained as one batched model.

Steps to target: the first evaluation point at which the mean training loss since the
previous point is at or below the target; None when it never gets there (or diverged).
"""

from __future__ import annotations

import numpy as np

from ... import datasets, models
from ...result import RunContext
from ...runner import Cells, split_cells
from ...sweeps import batch_sizes
from ...trainer import History, TrainConfig, Trainer
from .spec import arm_spec, arms_for, model_spec, scaled_lr

N_EVALS = 16  # evaluation points: the resolution of steps_to_target
# Training accuracy is not reported (test accuracy and the training loss are), but the trainer
# measures it at every evaluation point; on its default 1,000 samples that forward pass cost
# about a third of a CNN run at batch 32.
TRAIN_EVAL_SAMPLES = 1


def measure(ctx: RunContext, data: datasets.Dataset) -> Cells:
    p = ctx.params
    jobs = [(m, b) for m in p["models"] for b in batch_sizes(p) if arms_for(p, m)]
    # Progress share per run: steps x arms (a batch of b costs about b per step, so equal
    # epochs cost about the same; the arms are what differ between models).
    weights = np.array([len(arms_for(p, m)) for m, _ in jobs], dtype=float)
    weights /= weights.sum()
    cells, done = Cells(), 0.0
    for (model, b), share in zip(jobs, weights, strict=True):
        hist = train(ctx, data, model, b, done, share)
        done += share
        arms = arms_for(p, model)
        metrics = {"test_acc": hist.final("test_acc"),
                   "train_loss": hist.final("train_loss"),
                   "steps_to_target": steps_to_target(hist, p["loss_target"])}
        labels = [{"arm": a, "model": model, "batch_size": b} for a in arms]
        found = split_cells(labels, metrics, hist.diverged, p["seeds"], 1 / data.n_classes)
        for cell in found:
            cell.extra = {"lr": scaled_lr(p, b), "steps": hist.total_steps}
        cells.add(found)
    return cells


def train(ctx: RunContext, data: datasets.Dataset, model: str, batch_size: int, done: float,
          share: float) -> History:
    p = ctx.params
    arms = arms_for(p, model)
    spec = model_spec(p, model)
    member_seeds = ctx.seeds() * len(arms)  # the same seeds in every arm: paired comparisons
    net = models.build(spec, member_seeds, data.n_features, data.n_classes,
                       arms=[arm_spec(a, p, spec.width) for a in arms])
    cfg = TrainConfig(batch_size=batch_size, epochs=p["epochs"], optimizer="sgd",
                      lr=scaled_lr(p, batch_size), momentum=p["momentum"], n_evals=N_EVALS,
                      train_eval_samples=TRAIN_EVAL_SAMPLES)
    trainer = Trainer(net, data, cfg, member_seeds, ctx.device, on_progress=lambda f, msg:
                      ctx.progress(done + share * f, f"{model}, batch {batch_size}: {msg}"))
    return trainer.run()


def steps_to_target(hist: History, target: float) -> np.ndarray:
    """(M,) first evaluation step with training loss <= target; NaN if never reached."""
    loss = hist.metrics["train_loss"]  # (points, M); NaN at step 0 and once diverged
    steps = np.asarray(hist.steps, dtype=float)
    with np.errstate(invalid="ignore"):
        reached = np.nan_to_num(loss, nan=np.inf) <= target
    first = np.where(reached.any(0), reached.argmax(0), -1)
    return np.where(first >= 0, steps[np.maximum(first, 0)], np.nan)
