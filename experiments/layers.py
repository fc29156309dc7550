"""Batched layers: M independent models ("members": seeds or arms) evaluated as one.

Every activation carries a leading members axis: (M, N, F) for features, (M, N, C, L) for 1-D
signals. Weights carry it too, so one matmul (or one grouped conv) serves all members and no
statistic or gradient is ever shared between them. Each member's initial weights come from its
own generator, drawn exactly as `torch.nn.Linear` / `torch.nn.Conv1d` would draw them, so
member m of a batched model equals a plain module built under seed m.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable


def member_generators(seeds: Sequence[int]) -> list[torch.Generator]:
    """One CPU generator per member; layers draw from them in construction order."""
    return [torch.Generator().manual_seed(int(s)) for s in seeds]


def _uniform(shape: tuple[int, ...], bound: float, gens: list[torch.Generator]) -> torch.Tensor:
    """(M, *shape): member m drawn from gens[m], like nn.init's kaiming_uniform(a=sqrt(5))."""
    return torch.stack([torch.empty(shape).uniform_(-bound, bound, generator=g) for g in gens])


class Linear(nn.Module):
    """y = x W + b per member; weight (M, in, out), bias (M, out)."""

    def __init__(self, in_features: int, out_features: int, gens: list[torch.Generator],
                 bias: bool = True):
        super().__init__()
        bound = 1 / math.sqrt(in_features)  # nn.Linear's default init range
        # Drawn as (out, in) like nn.Linear, then stored transposed for bmm.
        self.weight = nn.Parameter(_uniform((out_features, in_features), bound, gens)
                                   .transpose(1, 2).contiguous())  # (M, in, out)
        self.bias = nn.Parameter(_uniform((out_features,), bound, gens)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (M, N, in) -> (M, N, out)
        if self.weight.shape[-1] < NARROW and x.device.type == "cpu":
            return _NarrowLinear.apply(x, self.weight, self.bias)
        if self.bias is None:
            return torch.bmm(x, self.weight)
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight)


# CPU batched matmuls whose output rows are shorter than one AVX-512 register of floats run
# 4-7x slower than the same product computed transposed (measured at 8 members, 128->10 at
# batch 128: 323 us against 67 forward, 273 against 57 for the weight gradient). A classifier
# head with 10 classes is such a layer, so it computes those two products the other way round,
# eager or traced by torch.compile: inductor keeps the orientation it is given, and the traced
# step ran 1.40 -> 1.24 ms at 8 members, batch 128, with it.
NARROW = 16


class _NarrowLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        xt, wt = x.transpose(1, 2), weight.transpose(1, 2)  # (M, in, N), (M, out, in)
        yt = torch.bmm(wt, xt) if bias is None else torch.baddbmm(bias.unsqueeze(2), wt, xt)
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return yt.transpose(1, 2).contiguous()  # (M, N, out)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        gx = torch.bmm(g, weight.transpose(1, 2)) if ctx.needs_input_grad[0] else None
        gw = (torch.bmm(g.transpose(1, 2), x).transpose(1, 2)
              if ctx.needs_input_grad[1] else None)
        gb = g.sum(1) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return gx, gw, gb


class Conv1d(nn.Module):
    """A 1-D convolution per member, run as one grouped convolution (groups = M)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 gens: list[torch.Generator], stride: int = 1, padding: int = 0,
                 bias: bool = True):
        super().__init__()
        bound = 1 / math.sqrt(in_channels * kernel_size)  # nn.Conv1d's default init range
        self.weight = nn.Parameter(
            _uniform((out_channels, in_channels, kernel_size), bound, gens))  # (M, O, I, K)
        self.bias = nn.Parameter(_uniform((out_channels,), bound, gens)) if bias else None
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (M, N, I, L) -> (M, N, O, L')
        m, n, c, length = x.shape
        w = self.weight.reshape(-1, c, self.weight.shape[-1])  # (M*O, I, K)
        b = None if self.bias is None else self.bias.reshape(-1)
        y = F.conv1d(x.transpose(0, 1).reshape(n, m * c, length), w, b,
                     stride=self.stride, padding=self.padding, groups=m)  # (N, M*O, L')
        return y.reshape(n, m, -1, y.shape[-1]).transpose(0, 1)


ACTIVATIONS = {
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "linear": lambda x: x,
}
