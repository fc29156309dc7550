"""Santurkar et al. 2018 probes: internal covariate shift as gradient change, and the loss
landscape along the gradient ("How Does Batch Normalization Help Optimization?", Sec. 2.2
and 3.1, Fig. 3 and 4).

Both work on a deep copy of the batched model, so training is untouched, with every norm in
train mode (batch statistics over the probe batch) and its running statistics left alone
(`norms.train_mode_eval`). All members are probed at once: members share no statistics and no
parameters, so the gradient of the sum of the per-member losses holds each member's own
gradient, and per-member norms and dot products are sums over each parameter's member slice.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from . import norms
from .models import Network, member_parameters
from .trainer import ProbeState, member_loss


def _probe_copy(model: Network) -> Network:
    net = copy.deepcopy(model)
    for p in net.parameters():
        p.grad = None  # the copy needs no trace of the last training step
    return net


def _owned(module: nn.Module) -> tuple[list[nn.Parameter], list[slice]]:
    owned = [(p, sl) for p, sl in member_parameters(module) if p.requires_grad]
    return [p for p, _ in owned], [sl for _, sl in owned]


def _per_member(t: torch.Tensor, sl: slice, values: torch.Tensor) -> torch.Tensor:
    """(m,) values of a parameter's member slice as (m, 1, ..., 1), to broadcast against it."""
    return values[sl].view(-1, *([1] * (t.dim() - 1)))


def member_dots(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor],
                slices: Sequence[slice], members: int) -> torch.Tensor:
    """(M,) per-member dot product of two parameter-shaped lists: sum over each member's slice."""
    out = torch.zeros(members, dtype=torch.float64, device=a[0].device)
    for x, y, sl in zip(a, b, slices, strict=True):
        out[sl] += (x.double() * y.double()).flatten(1).sum(1)
    return out


def member_norms(tensors: Sequence[torch.Tensor], slices: Sequence[slice],
                 members: int) -> torch.Tensor:
    """(M,) per-member l2 norm of a parameter-shaped list."""
    return member_dots(tensors, tensors, slices, members).sqrt()


def _gradients(net: Network, params: list[nn.Parameter], x: torch.Tensor, y: torch.Tensor,
               active: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Per-member loss (M,) and the gradient of each parameter; a frozen (diverged) member
    contributes nothing, so its NaNs stay out of the others' gradients."""
    loss = member_loss(net(x), y)  # (M,)
    total = torch.where(active, loss, 0.0).sum()
    grads = torch.autograd.grad(total, params, allow_unused=True)
    return loss.detach(), [torch.zeros_like(p) if g is None else g
                           for p, g in zip(params, grads, strict=True)]


def _all_active(active: torch.Tensor | None, members: int, device: torch.device
                ) -> torch.Tensor:
    if active is None:
        return torch.ones(members, dtype=torch.bool, device=device)
    return active


def internal_covariate_shift(model: Network, x: torch.Tensor, y: torch.Tensor,
                             step_size: torch.Tensor, active: torch.Tensor | None = None
                             ) -> dict[str, torch.Tensor]:
    """ICS of each block's weight W_i on the batch x (M, B, F), y (M, B), per member.

    G is the gradient of the loss w.r.t. W_i; G' is the same gradient after the parameters of
    blocks 0..i-1 (weights, biases, gamma and beta) took one plain gradient step of
    `step_size` (M,) on this batch, everything from block i up unchanged. Returns (M, L)
    tensors: `ics_l2` = ||G - G'||, `ics_cosine` = cos(G, G'), `ics_relative` =
    ||G - G'|| / ||G||. Block 0 has nothing below it, so its column is NaN; so are members
    that are not active.
    """
    net = _probe_copy(model)
    m, depth = net.members, len(net.blocks)
    active = _all_active(active, m, x.device)
    l2 = torch.full((m, depth), float("nan"), dtype=torch.float64, device=x.device)
    cosine, relative = l2.clone(), l2.clone()
    with norms.train_mode_eval(net, x.shape[1]):
        params, _ = _owned(net)
        _, grads = _gradients(net, params, x, y, active)
        grad_of = {id(p): g for p, g in zip(params, grads, strict=True)}
        for i in range(1, depth):
            below, below_slices = _owned(net.blocks[i - 1])
            with torch.no_grad():
                # Blocks 0..i-2 were stepped for earlier layers already, so stepping block i-1
                # now leaves exactly blocks 0..i-1 updated.
                for p, sl in zip(below, below_slices, strict=True):
                    p.sub_(_per_member(p, sl, step_size) * grad_of[id(p)])
            weight = net.blocks[i].layer.weight  # (M, in, out): covers every member
            g = grad_of[id(weight)].flatten(1).double()  # (M, P)
            _, (g_new,) = _gradients(net, [weight], x, y, active)
            g_new = g_new.flatten(1).double()
            diff = (g - g_new).norm(dim=1)
            norm_g, norm_new = g.norm(dim=1), g_new.norm(dim=1)
            l2[:, i] = diff
            cosine[:, i] = (g * g_new).sum(1) / (norm_g * norm_new).clamp_min(1e-30)
            relative[:, i] = diff / norm_g.clamp_min(1e-30)
    dead = ~active
    for t in (l2, cosine, relative):
        t[dead] = float("nan")
    return {"ics_l2": l2, "ics_cosine": cosine, "ics_relative": relative}


def loss_landscape(model: Network, x: torch.Tensor, y: torch.Tensor,
                   step_sizes: Sequence[float], active: torch.Tensor | None = None
                   ) -> dict[str, torch.Tensor]:
    """The loss and gradient along the gradient direction, per member.

    From the current parameters theta, with g the gradient of the loss on the batch, each
    probe point is theta - eta * g for eta in `step_sizes` (all parameters of the member).
    Returns `landscape_loss` (M, K+1): the loss at theta then at each probe point;
    `landscape_grad_dist` (M, K): ||grad(probe) - g||; `landscape_distance` (M, K): how far
    the parameters moved, eta * ||g||; and the three summaries (M,): `loss_variation` (max
    minus min of the loss along the ray), `grad_predictiveness` (the largest gradient change),
    `beta_smoothness` (the largest gradient change per unit distance moved).
    """
    net = _probe_copy(model)
    m = net.members
    active = _all_active(active, m, x.device)
    with norms.train_mode_eval(net, x.shape[1]):
        params, slices = _owned(net)
        loss0, g0 = _gradients(net, params, x, y, active)
        start = [p.detach().clone() for p in params]
        g_norm = member_norms(g0, slices, m)  # (M,)
        losses, dists, moved = [loss0.double()], [], []
        for eta in step_sizes:
            with torch.no_grad():
                for p, p0, g in zip(params, start, g0, strict=True):
                    p.copy_(p0 - eta * g)
            loss, grads = _gradients(net, params, x, y, active)
            losses.append(loss.double())
            dists.append(member_norms([a - b for a, b in zip(grads, g0, strict=True)],
                                      slices, m))
            moved.append(eta * g_norm)
    loss = torch.stack(losses, 1)  # (M, K+1)
    dist = torch.stack(dists, 1)  # (M, K)
    distance = torch.stack(moved, 1)  # (M, K)
    out = {
        "landscape_loss": loss,
        "landscape_grad_dist": dist,
        "landscape_distance": distance,
        "loss_variation": loss.max(1).values - loss.min(1).values,
        "grad_predictiveness": dist.max(1).values,
        "beta_smoothness": (dist / distance).max(1).values,
    }
    dead = ~active
    for t in out.values():
        t[dead] = float("nan")
    return out


def _numpy(values: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {k: v.cpu().numpy() for k, v in values.items()}


class InternalCovariateShift:
    """Trainer probe: `internal_covariate_shift` on the last training batch. The step below
    is a plain gradient step of `step_size` (the member's current learning rate if None), the
    same for every optimizer, so arms and optimizers are probed alike."""

    name = "ics"

    def __init__(self, step_size: float | None = None):
        self.step_size = step_size

    def __call__(self, state: ProbeState) -> dict[str, np.ndarray]:
        x, y = state.batch
        step = (state.lr if self.step_size is None
                else torch.full_like(state.lr, self.step_size))
        return _numpy(internal_covariate_shift(state.model, x, y, step, state.active))


class LossLandscape:
    """Trainer probe: `loss_landscape` on the last training batch."""

    name = "landscape"

    def __init__(self, step_sizes: Sequence[float] = (0.05, 0.1, 0.2, 0.4)):
        self.step_sizes = tuple(step_sizes)

    def __call__(self, state: ProbeState) -> dict[str, np.ndarray]:
        x, y = state.batch
        return _numpy(loss_landscape(state.model, x, y, self.step_sizes, state.active))
