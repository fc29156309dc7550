"""The normalization layers themselves, on batched (M, N, C) or (M, N, C, L) activations.

experiments.norms registers them by name and is where callers look them up; the papers each
layer implements are listed there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from experiments import fused
from experiments.errors import ParamError

# Candidate group counts for GroupNorm, largest first; 32 is Wu & He's default, 5 suits the
# 25-channel MNIST-1D CNN.
_GROUP_CHOICES = (32, 16, 8, 5, 4, 2, 1)


def _as_4d(x: torch.Tensor) -> torch.Tensor:
    """(M, N, C) -> (M, N, C, 1), so every norm has one code path for features and signals."""
    if x.dim() == 3:
        return x.unsqueeze(-1)
    if x.dim() == 4:
        return x
    raise ValueError(f"expected (M, N, C) or (M, N, C, L), got shape {tuple(x.shape)}")


def _channelwise(t: torch.Tensor, ndim: int) -> torch.Tensor:
    """(M, C) -> (M, 1, C, 1) for ndim 4, (M, 1, 1, C, 1) for ndim 5 (grouped activations)."""
    return t.reshape(t.shape[0], *([1] * (ndim - 3)), t.shape[1], 1)


def _split_groups(x: torch.Tensor, group: int) -> torch.Tensor:
    """(M, N, C, L) -> (M, N // group, group, C, L): consecutive samples share statistics."""
    m, n, c, length = x.shape
    if group < 1 or n % group:
        raise ValueError(f"batch of {n} cannot be split into groups of {group} samples")
    if group * length < 2:
        raise ValueError("batch statistics need more than 1 value per channel")
    return x.reshape(m, n // group, group, c, length)


def _mean_var(x: torch.Tensor, dim: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and biased variance over `dim`, kept. Two passes of plain means: on CPU,
    torch.var_mean over a non-inner axis is tens of times slower for these small tensors."""
    mean = x.mean(dim, keepdim=True)
    centred = x - mean
    return mean, (centred * centred).mean(dim, keepdim=True)


def _moments(xg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-group mean and biased variance of (M, G, g, C, L), each (M, G, 1, C, 1)."""
    return _mean_var(xg, (2, 4))


class Norm(nn.Module):
    """Base of every norm: shape handling, optional affine (M, C) parameters, input capture.

    `update_stats`, `stat_group` and `capture` are plain attributes that callers switch: see
    `train_mode_eval`. Subclasses implement `_forward` on (M, N, C, L) activations.
    """

    def __init__(self, num_features: int, members: int = 1, eps: float = 1e-5,
                 affine: bool = True):
        super().__init__()
        self.num_features, self.members, self.eps = num_features, members, eps
        self.update_stats = True  # False: a train-mode forward leaves every buffer alone
        self.stat_group: int | None = None  # batch statistics over groups of this many samples
        self.capture = False  # True: keep the input's batch mean and std for probes
        self.captured_mean: torch.Tensor | None = None  # (M, C)
        self.captured_std: torch.Tensor | None = None  # (M, C)
        if affine:
            self.weight = nn.Parameter(torch.ones(members, num_features))  # gamma (M, C)
            self.bias = nn.Parameter(torch.zeros(members, num_features))  # beta (M, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x4 = _as_4d(x)  # (M, N, C, L)
        if self.capture:
            self._capture(x4)
        return self._forward(x4).reshape(x.shape)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _capture(self, x: torch.Tensor) -> None:
        with torch.no_grad():
            mean, var = _mean_var(x, (1, 3))  # (M, 1, C, 1)
        self.captured_mean, self.captured_std = mean.flatten(1), var.sqrt().flatten(1)

    def _affine(self, y: torch.Tensor) -> torch.Tensor:
        d = y.dim()
        return torch.addcmul(_channelwise(self.bias, d), y, _channelwise(self.weight, d))

    def extra_repr(self) -> str:
        return f"{self.num_features}, members={self.members}, eps={self.eps}"


class NoNorm(Norm):
    """Identity: the "no normalization" arm; capture still works."""

    def __init__(self, num_features: int, members: int = 1):
        super().__init__(num_features, members, affine=False)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class BatchNorm(Norm):
    """Batch normalization; gradients flow through mu_B and var_B.

    Running statistics follow PyTorch: running = (1 - momentum) * running + momentum * batch,
    with the unbiased variance stored. With `ghost_size` (or `stat_group`, which overrides it)
    statistics come from groups of consecutive samples and the running statistics from the mean
    over groups of the group means and group unbiased variances.
    """

    def __init__(self, num_features: int, members: int = 1, eps: float = 1e-5,
                 momentum: float = 0.1, ghost_size: int | None = None):
        super().__init__(num_features, members, eps)
        if ghost_size is not None and ghost_size < 1:
            raise ParamError("ghost_size", f"must be at least 1, got {ghost_size}")
        self.momentum, self.ghost_size = momentum, ghost_size
        self.register_buffer("running_mean", torch.zeros(members, num_features))  # (M, C)
        self.register_buffer("running_var", torch.ones(members, num_features))  # (M, C)
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    stats_in_gradient = True  # False: mu_B and var_B are constants for the gradient

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self._running_affine(x)
        m, n, c, length = x.shape
        xg = self._groups(x)  # (M, G, g, C, L), a view
        groups = xg.shape[1]
        # Groups fold into the members axis: each (member, group) is normalized on its own.
        y, mean, var = fused.batch_norm_train(
            xg.reshape(m * groups, n // groups, c, length), self._per_group(self.weight, groups),
            self._per_group(self.bias, groups), self.eps, self.stats_in_gradient)
        self._track(mean.view(m, groups, 1, c, 1), var.view(m, groups, 1, c, 1), xg)
        return y.reshape(x.shape)

    @staticmethod
    def _per_group(t: torch.Tensor, groups: int) -> torch.Tensor:
        """(M, C) -> (M * groups, C), member-major like the folded activations."""
        if groups == 1:
            return t
        m, c = t.shape
        return t[:, None, :].expand(m, groups, c).reshape(m * groups, c)

    def _group_size(self, x: torch.Tensor) -> int:
        group = self.stat_group if self.stat_group is not None else self.ghost_size
        return x.shape[1] if group is None else group

    def _groups(self, x: torch.Tensor) -> torch.Tensor:
        return _split_groups(x, self._group_size(x))

    def _batch_stats(self, xg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, var = _moments(xg)
        self._track(mean, var, xg)
        return mean, var

    def _track(self, mean: torch.Tensor, var: torch.Tensor, xg: torch.Tensor) -> None:
        """Fold group statistics (M, G, 1, C, 1) into the running buffers, if update_stats."""
        if not self.update_stats:
            return
        count = xg.shape[2] * xg.shape[4]  # values per channel and group
        with torch.no_grad():
            m, c = self.running_mean.shape
            if mean.shape[1] == 1:  # one group: no mean over groups to take
                batch_mean, batch_var = mean.view(m, c), var.view(m, c) * (count / (count - 1))
            else:
                batch_mean = mean.mean(1).view(m, c)
                batch_var = (var * (count / (count - 1))).mean(1).view(m, c)  # unbiased
            torch._foreach_lerp_([self.running_mean, self.running_var], [batch_mean, batch_var],
                                 self.momentum)
            self.num_batches_tracked.add_(1)

    def _running_affine(self, x: torch.Tensor) -> torch.Tensor:
        """Standardize with the running statistics, then the affine map, as one pass
        x * scale + shift (the form of torch's own batch-norm inference)."""
        scale = torch.rsqrt(self.running_var + self.eps)  # (M, C)
        shift = -self.running_mean * scale
        if hasattr(self, "weight"):
            shift = torch.addcmul(self.bias, shift, self.weight)
            scale = scale * self.weight
        return torch.addcmul(_channelwise(shift, x.dim()), x, _channelwise(scale, x.dim()))


class DetachedBatchNorm(BatchNorm):
    """BN with mu_B and var_B detached: normalization outside the gradient step (I&S 2015 §2)."""

    stats_in_gradient = False


class RunningStatsNorm(BatchNorm):
    """Running statistics in the training forward too: fold in the batch statistics first, then
    normalize with the updated running mean and variance, with no gradient through either."""

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.update_stats:
            with torch.no_grad():
                self._batch_stats(self._groups(x))
        return self._running_affine(x)


class BatchRenorm(BatchNorm):
    """Batch renormalization (Ioffe 2017): xhat = (x - mu_B) / sigma_B * r + d with
    r = clip(sigma_B / sigma, 1/r_max, r_max) and d = clip((mu_B - mu) / sigma, -d_max, d_max),
    both constants for the gradient; mu and sigma are the running statistics before this step.

    Schedule: plain BN (r_max 1, d_max 0) for the first `warmup_steps` training forwards, then
    the limits rise linearly to r_max and d_max over `r_ramp_steps` and `d_ramp_steps` (0 = at
    once). Steps are counted by `num_batches_tracked`.
    """

    def __init__(self, num_features: int, members: int = 1, eps: float = 1e-5,
                 momentum: float = 0.01, r_max: float = 3.0, d_max: float = 5.0,
                 warmup_steps: int = 0, r_ramp_steps: int = 0, d_ramp_steps: int = 0):
        super().__init__(num_features, members, eps, momentum)
        if r_max < 1:
            raise ParamError("r_max", f"must be at least 1, got {r_max}")
        if d_max < 0:
            raise ParamError("d_max", f"must be at least 0, got {d_max}")
        self.r_max, self.d_max = r_max, d_max
        self.warmup_steps, self.r_ramp_steps, self.d_ramp_steps = (
            warmup_steps, r_ramp_steps, d_ramp_steps)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self._running_affine(x)
        xg = self._groups(x)  # (M, G, g, C, L)
        mean, var = _moments(xg)  # (M, G, 1, C, 1)
        std = torch.sqrt(var + self.eps)
        running_mean = _channelwise(self.running_mean, xg.dim())  # (M, 1, 1, C, 1)
        running_std = torch.sqrt(_channelwise(self.running_var, xg.dim()) + self.eps)
        r_max = 1 + (self.r_max - 1) * self._ramp(self.r_ramp_steps, x.dtype)  # 0-d
        d_max = self.d_max * self._ramp(self.d_ramp_steps, x.dtype)  # 0-d
        r = (std / running_std).detach().clamp(1 / r_max, r_max)
        d = ((mean - running_mean) / running_std).detach().clamp(-d_max, d_max)
        self._track(mean, var, xg)
        return self._affine(((xg - mean) / std * r + d).reshape(x.shape))

    def _ramp(self, ramp_steps: int, dtype: torch.dtype) -> torch.Tensor:
        """0 during warm-up, then rising linearly to reach 1 on the `ramp_steps`-th step after."""
        length = max(ramp_steps, 1)
        done = (self.num_batches_tracked - self.warmup_steps + 1).clamp(0, length)
        return done.to(dtype) / length


class GroupNorm(Norm):
    """Per sample over C/G channels x L, per-channel affine; no running statistics."""

    def __init__(self, num_features: int, members: int = 1, eps: float = 1e-5,
                 num_groups: int | None = None):
        super().__init__(num_features, members, eps)
        if num_groups is None:
            num_groups = next(g for g in _GROUP_CHOICES if num_features % g == 0)
        if num_groups < 1 or num_features % num_groups:
            raise ParamError("num_groups", f"{num_groups} does not divide {num_features} channels")
        self.num_groups = num_groups

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        m, n, c, length = x.shape
        # Statistics are per sample, so members fold into the batch axis of torch's fused
        # kernel; the affine map is per member, applied after.
        y = F.group_norm(x.reshape(m * n, c, length), self.num_groups, eps=self.eps)
        return self._affine(y.reshape(x.shape))


class LayerNorm(GroupNorm):
    """Per sample over all C x L values (GroupNorm with one group), per-channel affine."""

    def __init__(self, num_features: int, members: int = 1, eps: float = 1e-5):
        super().__init__(num_features, members, eps, num_groups=1)


class GhostBatchNorm(BatchNorm):
    """BN over virtual batches of `ghost_size` consecutive samples (Hoffer et al. 2017)."""

    def __init__(self, num_features: int, members: int = 1, eps: float = 1e-5,
                 momentum: float = 0.1, ghost_size: int = 16):
        super().__init__(num_features, members, eps, momentum, ghost_size)
