"""dropout_interaction: dropout before batch norm or before the classifier, trained as one
batched model per width, every rate and placement side by side.

`MemberDropout` drops with a rate per member, so one batched model holds every group. Before
each batch norm means on the input of every hidden layer but the first (after the previous
ReLU; the first layer sees the raw signal); before the classifier means on the last hidden
layer's output only. Li et al. (2019) explain the cost of the first placement: in training,
dropout inflates the variance a batch norm sees; its running variance keeps that inflated
value, and at test time, with dropout off, the input is narrower than the norm expects.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ... import datasets, models, norms, probes
from ...result import RunContext
from ...runner import Cells, split_cells
from ...trainer import TrainConfig, Trainer, member_accuracy
from .spec import groups

TEST_ORDER_SEED = 11


class MemberDropout(nn.Module):
    """Inverted dropout with a rate per member: (M, N, ...) inputs, rates (M,)."""

    def __init__(self, rates: torch.Tensor):
        super().__init__()
        self.register_buffer("keep", 1.0 - rates)  # (M,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        keep = self.keep.view(-1, *([1] * (x.dim() - 1)))
        mask = torch.rand_like(x) < keep
        return torch.where(mask, x / keep.clamp_min(1e-6), 0.0)


def add_dropout(model: models.Network, labels: list[dict], n: int) -> None:
    """Dropout on the inputs of the hidden layers but the first (before_bn) and of the
    classifier (before_classifier), as forward pre-hooks, so the network keeps its shape."""
    def rates(placement: str) -> torch.Tensor:
        return torch.tensor([g["p"] if g["placement"] == placement else 0.0 for g in labels]
                            ).repeat_interleave(n)

    sites = [(f"dropout_{i}", block.layer, "before_bn")
             for i, block in enumerate(model.blocks) if i > 0]
    sites.append(("dropout_head", model.head, "before_classifier"))
    for name, target, placement in sites:
        drop = MemberDropout(rates(placement))
        model.add_module(name, drop)  # follows the model's train/eval mode and device
        target.register_forward_pre_hook(lambda _module, args, drop=drop: (drop(args[0]),))


def measure(ctx: RunContext, data: datasets.Dataset) -> Cells:
    p = ctx.params
    widths = sorted({int(w) for w in p["widths"]})
    cost = np.array([w * w for w in widths], dtype=float)
    shares = cost / cost.sum()
    cells, done = Cells(), 0.0
    for width, share in zip(widths, shares, strict=True):
        cells.add(measure_width(ctx, data, width, done, share))
        done += share
    return cells


def measure_width(ctx: RunContext, data: datasets.Dataset, width: int, done: float,
                  share: float) -> list:
    p = ctx.params
    labels = groups(p)
    n = p["seeds"]
    seeds = ctx.seeds() * len(labels)
    spec = models.ModelSpec(kind="mlp", width=width, depth=p["depth"])
    model = models.build(spec, seeds, data.n_features, data.n_classes)
    add_dropout(model, labels, n)
    cfg = TrainConfig(batch_size=p["batch_size"], epochs=p["epochs"], optimizer=p["optimizer"],
                      lr=p["lr"], n_evals=4)
    trainer = Trainer(model, data, cfg, seeds, ctx.device, on_progress=lambda f, msg:
                      ctx.progress(done + share * f, f"width {width}: {msg}"))
    hist = trainer.run()
    metrics = {"test_acc": hist.final("test_acc"),
               "train_mode_acc": train_mode_accuracy(trainer.model, data, p["test_batch"]),
               "var_ratio": variance_ratio(trainer.model, data.x_test)}
    cells = split_cells([{**g, "width": width} for g in labels], metrics, hist.diverged, n,
                        1 / data.n_classes)
    for cell in cells:
        cell.extra = {"arm": "batchnorm", "steps": hist.total_steps}  # every layer has BN
    return cells


@torch.no_grad()
def train_mode_accuracy(model: models.Network, data: datasets.Dataset, batch: int
                        ) -> np.ndarray:
    """(M,) test accuracy with batch norm on the statistics of shuffled test batches and
    dropout off: what the network scores once the running averages are out of the way."""
    m = model.members
    g = torch.Generator().manual_seed(TEST_ORDER_SEED)
    order = torch.randperm(len(data.y_test), generator=g).to(data.y_test.device)
    k = (len(order) // batch) * batch
    x, y = data.x_test[order[:k]].expand(m, -1, -1), data.y_test[order[:k]].expand(m, -1)
    with norms.train_mode_eval(model, batch):
        for module in model.modules():
            if isinstance(module, MemberDropout):
                module.training = False  # restored by train_mode_eval on exit
        return member_accuracy(model(x), y).cpu().numpy()


@torch.no_grad()
def variance_ratio(model: models.Network, x_test: torch.Tensor) -> np.ndarray:
    """(M,) for the first batch norm after a dropout (the second layer's): its running
    variance over the variance of its input at test time, median over units."""
    model.eval()
    _, variances, counts = probes.population_stats(model, x_test)
    model.train()
    layer = 1 if len(model.blocks) > 1 else 0
    norm = model.blocks[layer].norm
    true = variances[layer] * counts[layer] / max(counts[layer] - 1, 1)
    return (norm.running_var / true.clamp_min(1e-12)).median(dim=1).values.cpu().numpy()
