"""covariate_shift_generalization: train every cell x seed as one batched MLP, then measure.

Protocol. The shifting noise sits after the norm, before the activation, in every hidden
layer but the last, so every noisy layer feeds another layer rather than the classifier
(unless `noise_last_layer`). After training, every arm with running statistics gets them
recomputed on the whole training set with the noise off (PreciseBN, Wu & Johnson 2021): the
running averages gathered during training saw the noise of the layers below and would not
describe the clean network. Training and test accuracy are then measured the same way for
every arm, in eval mode (no noise, no input shift); the accuracy the optimizer saw (training
batches, batch statistics, noise and input shift on) is measured beside it, and so is the
accuracy on a shifted copy of the test set in which every example has its own gain and
offset: the "coloured cats" that input variety is meant to prepare for.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from ... import augment, datasets, models, norms, probes
from ...result import RunContext
from ...runner import Cells, split_cells
from ...trainer import History, TrainConfig, Trainer, member_accuracy
from .spec import INPUT, RUNNING_STAT_NORMS, Plan, merged, norm_arm, plan

TEST_SHIFT_SEED = 20_181_105  # fixes the "coloured cats" test set, the same for every member
N_EVALS = 10  # evaluation points after step 0, for the activation figure


@dataclass
class Measured:
    cells: Cells
    plan: list[Plan]
    history: History  # for the activation figure
    n_train_eval: int  # training samples behind the training accuracy
    n_test: int


def measure(ctx: RunContext, data: datasets.Dataset) -> Measured:
    p = ctx.params
    cells, n_seeds = plan(p), p["seeds"]
    member_seeds = ctx.seeds() * len(cells)  # the same seeds in every cell: paired comparisons
    spec = models.ModelSpec(kind="mlp", width=p["width"], depth=p["depth"])
    model = models.build(spec, member_seeds, data.n_features, data.n_classes,
                         arms=merged([norm_arm(c, p) for c in cells]))
    if not p["noise_last_layer"]:
        silence_last_layer(model)
    shifts = [augment.ShiftArm(slice(i * n_seeds, (i + 1) * n_seeds), c.noise, INPUT[c.arm])
              for i, c in enumerate(cells) if c.arm in INPUT]
    transform = augment.InputShift(len(member_seeds), shifts, ctx.device) if shifts else None
    cfg = TrainConfig(batch_size=p["batch_size"], epochs=p["epochs"], optimizer=p["optimizer"],
                      lr=p["lr"], momentum=p["momentum"], n_evals=N_EVALS)
    trainer = Trainer(model, data, cfg, member_seeds, ctx.device,
                      probes=[probes.ActivationStats()], batch_transform=transform,
                      on_progress=lambda f, msg: ctx.progress(0.9 * f, f"training: {msg}"))
    hist = trainer.run()
    ctx.progress(0.9, "recomputing eval statistics without noise")
    final = final_metrics(trainer, transform, p)
    final["final_train_loss"] = hist.final("train_loss")
    final["gap"] = final["train_acc"] - final["test_acc"]  # per seed, before scoring
    labels = [c.labels(p["batch_size"]) for c in cells]
    measured = Cells(split_cells(labels, final, hist.diverged, n_seeds, 1.0 / data.n_classes))
    for cell in measured:
        cell.extra = {"steps": hist.total_steps}
    return Measured(measured, cells, hist,
                    min(cfg.train_eval_samples, len(data.y_train)), len(data.y_test))


def silence_last_layer(model: models.Network) -> None:
    """Noise off in the last hidden layer, whose output goes straight to the classifier."""
    for m in model.blocks[-1].modules():
        if isinstance(m, norms.NoisyBatchNorm | norms.NoisyNoNorm):
            m.noise_enabled = False


@torch.no_grad()
def final_metrics(trainer: Trainer, transform: augment.InputShift | None, p: dict
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
