"""The plain way: one torch.nn model and one torch.optim optimizer per seed, trained in a loop.

It exists to check the batched trainer (tests/experiments/test_trainer.py) and to time it
against (`bnlab bench engine`). Models are built from torch.nn under torch.manual_seed(seed),
independently of experiments.layers.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import norms
from .datasets import Dataset
from .models import ModelSpec
from .trainer import TrainConfig, data_order


class OneMemberNorm(nn.Module):
    """A bnlab norm with one member, as a plain module on (N, C) or (N, C, L)."""

    def __init__(self, name: str, c: int, **options):
        super().__init__()
        self.norm = norms.make_norm(name, c, 1, **options)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.unsqueeze(0)).squeeze(0)


def reference_norm(name: str, c: int, options: dict) -> nn.Module:
    """torch's own module where torch has one; else the bnlab norm with a single member."""
    if name == "batchnorm":
        return nn.BatchNorm1d(c)
    if name == "groupnorm":
        return nn.GroupNorm(options["num_groups"], c)
    if name == "layernorm" and not options:
        return nn.GroupNorm(1, c)
    if name == "none":
        return nn.Identity()
    return OneMemberNorm(name, c, **options)


def reference_model(seed: int, spec: ModelSpec, n_in: int, n_out: int) -> nn.Module:
    torch.manual_seed(seed)
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
           "linear": nn.Identity}[spec.activation]
    layers: list[nn.Module] = []
    width, length = n_in, n_in
    if spec.kind == "cnn":
        layers.append(nn.Unflatten(1, (1, n_in)))
        width = 1
    for i in range(spec.depth):
        if spec.kind == "cnn":
            k = 5 if i == 0 else 3
            layer = nn.Conv1d(width, spec.width, k, stride=2, padding=1, bias=spec.bias)
            length = (length + 2 - k) // 2 + 1
        else:
            layer = nn.Linear(width, spec.width, bias=spec.bias)
        norm = reference_norm(spec.norm, spec.width, spec.norm_options)
        pair = [norm, act()] if spec.norm_position == "before" else [act(), norm]
        layers += [layer, *pair]
        width = spec.width
    if spec.kind == "cnn":
        layers += [nn.Flatten()]
        width *= length
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


def reference_train(seed: int, spec: ModelSpec, data: Dataset, cfg: TrainConfig,
                    eval_points: set[int] = frozenset(), device: str = "cpu"
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-step training losses, and test accuracy and loss (eval mode) at `eval_points`."""
    model = reference_model(seed, spec, data.n_features, data.n_classes).to(device)
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                              weight_decay=cfg.weight_decay)
    elif cfg.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total = cfg.total_steps(len(data.y_train))
    order = data_order(seed, len(data.y_train), cfg.batch_size, total).to(device)
    x, y = data.x_train.to(device), data.y_train.to(device)
    losses = torch.zeros(total, device=device)
    accs, test_losses = [], []
    model.train()
    for t in range(total):
        idx = order[t]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses[t] = loss.detach()
        if t + 1 in eval_points:
            model.eval()
            with torch.no_grad():
                logits = model(data.x_test.to(device))
            accs.append((logits.argmax(1) == data.y_test.to(device)).float().mean().item())
            test_losses.append(F.cross_entropy(logits, data.y_test.to(device)).item())
            model.train()
    return losses.cpu().numpy(), np.array(accs), np.array(test_losses)
