"""Probes: what the trainer measures inside the network at each evaluation point.

Each probe is a callable taking a trainer.ProbeState and returning arrays keyed by name, with
the members axis first. The measurement batch is fixed (the first `n` training samples) so
values at different steps are comparable. Also here: the population statistics of each norm
layer's input, and PreciseBN recalibration (Wu & Johnson 2021).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from . import norms
from .models import Network, NormArms
from .trainer import ProbeState, member_loss

PERCENTILES = (15, 50, 85)  # as in Ioffe & Szegedy 2015, Fig. 1


def norm_slices(norm: nn.Module, members: int) -> list[tuple[slice, nn.Module]]:
    """The norm modules of one block with the member slice each covers."""
    if isinstance(norm, NormArms):
        out, start = [], 0
        for size, sub in zip(norm.sizes, norm.arms, strict=True):
            out.append((slice(start, start + size), sub))
            start += size
        return out
    return [(slice(0, members), norm)]


@contextmanager
def recording(model: Network) -> Iterator[None]:
    """Blocks keep what their activation sees; every norm keeps its input's batch stats."""
    all_norms = [m for m in model.modules() if isinstance(m, norms.Norm)]
    for b in model.blocks:
        b.record = True
    for n in all_norms:
        n.capture = True
    try:
        yield
    finally:
        for b in model.blocks:
            b.record, b.recorded = False, None
        for n in all_norms:
            n.capture = False


def _gather(model: Network, attr: str) -> list[torch.Tensor]:
    """Per block, the captured (M, C) statistic of each norm, joined along members."""
    out = []
    for b in model.blocks:
        parts = [getattr(n, attr) for _, n in norm_slices(b.norm, model.members)]
        out.append(torch.cat(parts, dim=0))
    return out


def probe_size(n: int, n_train: int, group: int) -> int:
    """How many samples a probe asking for n really uses: at most the training set, rounded
    down to whole training batches (so batch statistics are over groups of training size),
    and never less than one batch (a batch larger than n still makes one group)."""
    if group > n_train:
        raise ValueError(f"a batch of {group} does not fit in {n_train} training samples")
    return max(min(n, n_train) // group, 1) * group


def probe_batch(state: ProbeState, n: int) -> tuple[torch.Tensor, int]:
    """The fixed probe input: the first n training samples (rounded down to whole training
    batches) for every member, (M, n, F), and the group size that training normalizes over."""
    d, group = state.data, state.config.batch_size
    n = probe_size(n, len(d.y_train), group)
    return d.x_train[:n].expand(state.model.members, -1, -1), group


@torch.no_grad()
def forward_recorded(model: Network, x: torch.Tensor, group: int | None = None
                     ) -> torch.Tensor:
    """Forward (M, N, F) with recording on: in eval mode, or in train mode with batch
    statistics over groups of `group` samples (what training sees), buffers untouched."""
    if group is None:
        model.eval()
        return model(x)
    with norms.train_mode_eval(model, group):
        return model(x)


class ActivationStats:
    """Per layer: mean, std and 15/50/85th percentiles of what each nonlinearity sees."""

    name = "activations"

    def __init__(self, n: int = 512, train_mode: bool = True):
        self.n, self.train_mode = n, train_mode

    def __call__(self, state: ProbeState) -> dict[str, np.ndarray]:
        model, d = state.model, state.data
        group = state.config.batch_size if self.train_mode else None
        n = probe_size(self.n, len(d.y_train), group or 1)
        x = d.x_train[:n].expand(model.members, -1, -1)
        with recording(model):
            forward_recorded(model, x, group)
            rows = []
            for b in model.blocks:
                z = b.recorded.flatten(1).float()  # (M, N*C*L)
                q = torch.quantile(z, torch.tensor([p / 100 for p in PERCENTILES],
                                                   device=z.device), dim=1).T  # (M, 3)
                rows.append(torch.cat([z.mean(1, keepdim=True), z.std(1, keepdim=True), q], 1))
        return {"activation_stats": torch.stack(rows, 1).cpu().numpy()}  # (M, layers, 5)


class NormStats:
    """Per layer and unit: gamma and beta next to the batch mean and std the norm sees."""

    name = "norm_stats"

    def __init__(self, n: int = 512):
        self.n = n

    def __call__(self, state: ProbeState) -> dict[str, np.ndarray]:
        model = state.model
        out: dict[str, np.ndarray] = {}
        with recording(model):
            forward_recorded(model, *probe_batch(state, self.n))
            means, stds = _gather(model, "captured_mean"), _gather(model, "captured_std")
        for i, b in enumerate(model.blocks):
            gamma, beta = affine_params(b.norm, model.members, means[i])
            out[f"layer{i}.gamma"] = gamma.cpu().numpy()  # (M, C)
            out[f"layer{i}.beta"] = beta.cpu().numpy()
            out[f"layer{i}.mu_B"] = means[i].cpu().numpy()
            out[f"layer{i}.sigma_B"] = stds[i].cpu().numpy()
        return out


class UnitMoments:
    """Per layer and unit: mean and std of what the nonlinearity sees, on the fixed probe
    batch in train mode (batch statistics over groups of the training batch size, buffers
    untouched), so values at different steps are comparable."""

    name = "unit_moments"

    def __init__(self, n: int = 512):
        self.n = n

    def __call__(self, state: ProbeState) -> dict[str, np.ndarray]:
        model = state.model
        out: dict[str, np.ndarray] = {}
        with recording(model):
            forward_recorded(model, *probe_batch(state, self.n))
            for i, block in enumerate(model.blocks):
                z = block.recorded.double()  # (M, N, C)
                out[f"layer{i}.z_mean"] = z.mean(1).cpu().numpy()  # (M, C)
                out[f"layer{i}.z_std"] = z.std(1, correction=0).cpu().numpy()
        return out


def affine_params(norm: nn.Module, members: int, like: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, C) gamma and beta of a block's norm(s); 1 and 0 for norms without them."""
    gammas, betas = [], []
    for sl, n in norm_slices(norm, members):
        w = getattr(n, "weight", None)
        b = getattr(n, "bias", None)
        rows = like[sl]
        gammas.append(w.detach() if w is not None else torch.ones_like(rows))
        betas.append(b.detach() if b is not None else torch.zeros_like(rows))
    return torch.cat(gammas), torch.cat(betas)


class WeightNorms:
    """Per layer: norms of the weight and the bias feeding each norm layer, per member."""

    name = "weight_norms"

    def __call__(self, state: ProbeState) -> dict[str, np.ndarray]:
        w, b = [], []
        for block in state.model.blocks:
            layer = block.layer
            w.append(layer.weight.detach().flatten(1).norm(dim=1))
            bias = layer.bias
            b.append(bias.detach().norm(dim=1) if bias is not None
                     else torch.zeros_like(w[-1]))
        return {"weight_norm": torch.stack(w, 1).cpu().numpy(),  # (M, layers)
                "bias_norm": torch.stack(b, 1).cpu().numpy()}


@torch.no_grad()
def population_stats(model: Network, x: torch.Tensor) -> tuple[list, list, list]:
    """Per layer: mean and biased variance (M, C) of each norm's input over all of x (N, F),
    with the network in eval mode (earlier layers use their running statistics), and the
    number of values per channel they pool (N, or N x L for signals)."""
    with recording(model):
        forward_recorded(model, x.expand(model.members, -1, -1))
        means, stds = _gather(model, "captured_mean"), _gather(model, "captured_std")
        counts = [x.shape[0] * (b.recorded.shape[3] if b.recorded.dim() == 4 else 1)
                  for b in model.blocks]
    return means, [s**2 for s in stds], counts


@torch.no_grad()
def running_stat_error(model: Network, x: torch.Tensor) -> dict[str, np.ndarray]:
    """How far the running statistics are from the true statistics of the data x, per member:
    median over units and layers of |running_mean - mean| / std and |running_std / std - 1|.
    NaN for members whose norms keep no running statistics."""
    means, variances, _ = population_stats(model, x)
    m = model.members
    mean_err = np.full((m, len(means)), np.nan)
    std_err = np.full((m, len(means)), np.nan)
    for i, b in enumerate(model.blocks):
        std = variances[i].sqrt().clamp_min(1e-8)
        for sl, n in norm_slices(b.norm, m):
            if not hasattr(n, "running_mean"):
                continue
            err_m = ((n.running_mean - means[i][sl]).abs() / std[sl]).median(dim=1).values
            err_s = (n.running_var.sqrt() / std[sl] - 1).abs().median(dim=1).values
            mean_err[sl, i], std_err[sl, i] = err_m.cpu().numpy(), err_s.cpu().numpy()
    return {"running_mean_err": _row_median(mean_err), "running_std_err": _row_median(std_err)}


def _row_median(values: np.ndarray) -> np.ndarray:
    """Median over layers per member, NaN (without a warning) where a member has no values."""
    out = np.full(values.shape[0], np.nan)
    has = np.isfinite(values).any(axis=1)
    out[has] = np.nanmedian(values[has], axis=1)
    return out


@torch.no_grad()
def recalibrate(model: Network, x: torch.Tensor, names: tuple[str, ...] = ("batchnorm",)
                ) -> None:
    """PreciseBN: with the weights frozen, set each running-stat norm of the given kinds to the
    exact statistics of x, layer by layer (each layer sees the recalibrated layers below)."""
    m = model.members
    for i, b in enumerate(model.blocks):
        targets = [(sl, n) for sl, n in norm_slices(b.norm, m)
                   if norms.norm_name(n) in names]
        if not targets:
            continue
        means, variances, counts = population_stats(model, x)
        count = counts[i]
        for sl, n in targets:
            n.running_mean.copy_(means[i][sl])
            n.running_var.copy_(variances[i][sl] * count / max(count - 1, 1))


@torch.no_grad()
def layer_input_stats(model: Network, x: torch.Tensor, group: int | None = None) -> np.ndarray:
    """What each layer after the first receives (every block but the first, then the head):
    mean, std and fraction of negative values over all its input values, per member,
    (M, layers, 3). Batch statistics over groups of `group` samples, or eval mode if None."""
    seen: list[torch.Tensor] = []

    def record(_module, args):
        h = args[0].flatten(2).flatten(1).float()  # (M, N*C*L)
        seen.append(torch.stack([h.mean(1), h.std(1), (h < 0).float().mean(1)], 1))

    layers = [*list(model.blocks)[1:], model.head]
    hooks = [m.register_forward_pre_hook(record) for m in layers]
    try:
        forward_recorded(model, x.expand(model.members, -1, -1), group)
    finally:
        for h in hooks:
            h.remove()
        model.train()
    return torch.stack(seen, 1).cpu().numpy()


def gradient_norms(model: Network, x: torch.Tensor, y: torch.Tensor,
                   group: int | None = None) -> dict[str, np.ndarray]:
    """Per block, ||dL/dW|| and ||dL/db|| of the layer that feeds its norm, per member, for
    the mean cross-entropy of x (M, N, F) against y (M, N), each (M, layers); NaN for layers
    without a bias. Train mode with batch statistics over groups of `group` samples (None:
    the whole batch), running statistics untouched; parameters' .grad is left alone."""
    layers = [b.layer for b in model.blocks]
    weights = [layer.weight for layer in layers]
    biases = [layer.bias for layer in layers if layer.bias is not None]
    with norms.train_mode_eval(model, group):
        loss = member_loss(model(x), y).sum()  # members are independent: sum = per member
    grads = torch.autograd.grad(loss, weights + biases)
    w_norm = [g.flatten(1).norm(dim=1) for g in grads[:len(weights)]]
    b_iter = iter(grads[len(weights):])
    b_norm = [next(b_iter).norm(dim=1) if layer.bias is not None
              else torch.full_like(w_norm[0], float("nan")) for layer in layers]
    return {"weight_grad_norm": torch.stack(w_norm, 1).detach().cpu().numpy(),
            "bias_grad_norm": torch.stack(b_norm, 1).detach().cpu().numpy()}


class GradientNorms:
    """gradient_norms() on the last training batch, at each evaluation point."""

    name = "gradient_norms"

    def __call__(self, state: ProbeState) -> dict[str, np.ndarray]:
        x, y = state.batch
        return gradient_norms(state.model, x, y, state.config.batch_size)
