"""weight_decay: every decay and the exp_lr arm trained as one batched model.

The weights that feed each batch norm are scale-invariant: the norm removes their scale, so
the loss does not depend on it, but the effective learning rate does, as lr / ||w||^2 (van
Laarhoven 2017). Per-member decay is added to those weights' gradients (L2, as SGD's
weight_decay); the exp_lr arm instead multiplies its learning rate by (1 - lr * wd)^-2 every
step, which Li & Arora (2020) prove equivalent for scale-invariant weights. Once per training
step a hook sets that rate and, over the last `angle_steps` steps, measures the angle between
successive weight matrices.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ... import datasets, models
from ...result import RunContext
from ...runner import Cells, split_cells
from ...trainer import TrainConfig, Trainer
from .spec import groups


class StepHook:
    """Called by the trainer once per training step, before the forward pass."""

    def __init__(self, p: dict, groups: list[dict], weights: list[torch.nn.Parameter]):
        n = p["seeds"]
        self.trainer: Trainer | None = None
        self.t = 0
        self.weights = weights
        exp = torch.tensor([g["arm"] == "exp_lr" for g in groups]).repeat_interleave(n)
        wd = torch.tensor([g["wd"] for g in groups], dtype=torch.float64).repeat_interleave(n)
        # Per-step growth of the learning rate: (1 - lr * wd)^-2 for exp_lr members, else 1.
        self.log_growth = torch.where(exp, -2 * torch.log1p(-p["lr"] * wd), 0.0)
        self.angle_from = p["steps"] - p["angle_steps"]
        self.previous: list[torch.Tensor] | None = None
        self.angles: list[np.ndarray] = []

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        trainer = self.trainer
        factor = torch.exp(self.log_growth * self.t).to(trainer.lr)
        # Written from the base rate every step (in place: the optimizer holds views of it).
        torch.mul(trainer.base_lr, factor, out=trainer.lr)
        if self.t >= self.angle_from:
            current = [w.detach().flatten(1).clone() for w in self.weights]  # (M, D) each
            if self.previous is not None:
                self.angles.append(np.mean([_angle(a, b) for a, b in
                                            zip(self.previous, current, strict=True)], axis=0))
            self.previous = current
        self.t += 1
        return x


def _angle(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    cos = torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=1)
    return torch.arccos(cos.clamp(-1, 1)).cpu().numpy()


def measure(ctx: RunContext, data: datasets.Dataset) -> Cells:
    p = ctx.params
    labels = groups(p)
    n = p["seeds"]
    spec = models.ModelSpec(kind="mlp", width=p["width"], depth=p["depth"])
    member_seeds = ctx.seeds() * len(labels)
    model = models.build(spec, member_seeds, data.n_features, data.n_classes)
    weights = [block.layer.weight for block in model.blocks]  # the weights that feed a norm
    wd = torch.tensor([g["wd"] if g["arm"] == "weight_decay" else 0.0 for g in labels]
                      ).repeat_interleave(n)
    for w in weights:
        decay = wd.view(-1, *([1] * (w.dim() - 1))).to(w)
        w.register_hook(lambda g, w=w, decay=decay: g + decay * w.detach())
    w_start = norms_of(weights)
    hook = StepHook(p, labels, weights)
    # Plain SGD; the step hook changes the learning rate, so the step is not graph-captured.
    cfg = TrainConfig(batch_size=p["batch_size"], steps=p["steps"], optimizer="sgd",
                      lr=p["lr"], momentum=0.0, n_evals=10, cuda_graph=False)
    trainer = Trainer(model, data, cfg, member_seeds, ctx.device, batch_transform=hook,
                      on_progress=lambda f, msg: ctx.progress(0.95 * f, f"training: {msg}"))
    hook.trainer = trainer
    hist = trainer.run()
    w_end = norms_of(weights)
    lr_end = trainer.lr.detach().double().cpu().numpy()  # the rate of the last step
    metrics = {
        "test_acc": hist.final("test_acc"),
        "w_norm_start": w_start.mean(1),
        "w_norm_end": w_end.mean(1),
        "effective_lr_end": (lr_end[:, None] / w_end**2).mean(1),
        "angular_step_end": np.mean(hook.angles, axis=0) if hook.angles
        else np.full(len(member_seeds), np.nan),
    }
    cells = Cells(split_cells(labels, metrics, hist.diverged, n, 1 / data.n_classes))
    for cell in cells:
        cell.extra = {"predicted_angular_step": math.sqrt(2 * p["lr"] * cell.labels["wd"]),
                      "steps": hist.total_steps}
    return cells


def norms_of(weights: list[torch.nn.Parameter]) -> np.ndarray:
    """(M, layers) Frobenius norm of each member's weight matrix."""
    return torch.stack([w.detach().flatten(1).norm(dim=1) for w in weights], 1).double(
        ).cpu().numpy()
