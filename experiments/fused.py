"""Hand-fused forward and backward passes for the two hottest ops of a training step.

At MNIST-1D scale a step is dominated by per-op overhead and by memory passes, not by the
matmuls. Two ops stand out on the CPU:

- batch norm in training mode: torch's fused kernel wants (N, C, L) with the channels on axis 1,
  so batched activations (M, N, C, L) had to be transposed and copied in and out, and its
  backward kernel is slow for these shapes. `batch_norm_train` works on (M, N, C, L) directly
  (statistics over axes 1 and 3), in five passes forward and five backward.
- cross-entropy over 10 classes: `log_softmax` over a short last axis is slow on the CPU;
  `member_cross_entropy` does the same arithmetic in a few vectorised passes and returns the
  softmax gradient in one expression.

Both are plain tensor ops without host synchronisation, so they run inside a captured CUDA
graph as well. torch.compile traces the batch norm's hand-written backward as it is: its two
reductions and one elementwise pass beat the four passes inductor derives from the plain ops
(1.35 -> 1.26 ms a step at 8 members, batch 128). The cross-entropy is written as torch's own
op there instead, which the compiler fuses as well as the hand-written one. The arithmetic is
the textbook one (Ioffe & Szegedy 2015, Alg. 1 and its gradient); tests/experiments/
test_fused.py checks both against torch in float64, and the traced batch norm against eager.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

STAT_DIMS = (1, 3)  # batch and length axes of (M, N, C, L)


def _channels(t: torch.Tensor) -> torch.Tensor:
    """(M, C) -> (M, 1, C, 1), as one view."""
    return t.view(t.shape[0], 1, t.shape[1], 1)


class _BatchNormTrain(torch.autograd.Function):
    # At this scale every op costs about the same whatever its size, so the per-channel
    # (M, 1, C, 1) arithmetic is kept to a minimum: the backward's two coefficients are built
    # from factors the forward already has.

    @staticmethod
    def forward(ctx, x, weight, bias, eps: float, stats_in_gradient: bool):
        ctx.set_materialize_grads(False)  # mean and var carry no gradient: no zeros made
        mean = x.mean(STAT_DIMS, keepdim=True)  # (M, 1, C, 1)
        xc = x - mean
        var = (xc * xc).mean(STAT_DIMS, keepdim=True)  # biased, (M, 1, C, 1)
        invstd = (var + eps).rsqrt()
        scale = invstd if weight is None else invstd * _channels(weight)
        y = xc * scale if bias is None else torch.addcmul(_channels(bias), xc, scale)
        ctx.save_for_backward(xc, invstd, scale)
        ctx.stats_in_gradient = stats_in_gradient
        ctx.has_weight, ctx.has_bias = weight is not None, bias is not None
        ctx.mark_non_differentiable(mean, var)
        return y, mean, var

    @staticmethod
    @once_differentiable
    def backward(ctx, gy, _grad_mean, _grad_var):
        xc, invstd, scale = ctx.saved_tensors
        gsum = gy.sum(STAT_DIMS, keepdim=True)  # (M, 1, C, 1)
        gdot = (gy * xc).sum(STAT_DIMS, keepdim=True)  # (M, 1, C, 1)
        gx = None
        if ctx.needs_input_grad[0]:
            if ctx.stats_in_gradient:
                # dx = scale * (gy - mean(gy) - xhat * mean(gy * xhat)), as two fused passes:
                # gx = gy * scale + xc * c1 + c0 with c1 = -scale * invstd^2 * gdot / n and
                # c0 = -scale * gsum / n.
                k = scale * (-1.0 / (xc.numel() // gsum.numel()))
                c1 = torch.mul(gdot, invstd).mul_(invstd).mul_(k)
                gx = torch.addcmul(gsum * k, xc, c1).addcmul_(gy, scale)
            else:
                gx = gy * scale
        gw = (gdot * invstd).flatten(1) if ctx.has_weight and ctx.needs_input_grad[1] else None
        gb = gsum.flatten(1) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return gx, gw, gb, None, None


def batch_norm_train(x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None,
                     eps: float, stats_in_gradient: bool = True
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch-normalize (M, N, C, L) with its own statistics over N and L, per member.

    weight, bias: (M, C) or None. Returns y (M, N, C, L) and the batch mean and biased variance
    (M, 1, C, 1), which carry no gradient. `stats_in_gradient=False` treats the statistics as
    constants in the backward pass (the "detached" batch norm).
    """
    return _BatchNormTrain.apply(x, weight, bias, eps, stats_in_gradient)


class _MemberCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, targets):
        m, n, _ = logits.shape  # (M, N, K)
        shifted = logits - logits.amax(-1, keepdim=True)
        e = shifted.exp()
        s = e.sum(-1, keepdim=True)  # (M, N, 1)
        picked = shifted.gather(-1, targets.unsqueeze(-1))  # (M, N, 1)
        loss = (s.log() - picked).view(m, n).mean(1)  # (M,)
        ctx.save_for_backward(e, s, targets)
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        e, s, targets = ctx.saved_tensors
        n = e.shape[1]
        grad = e / s  # softmax, (M, N, K)
        grad.scatter_add_(-1, targets.unsqueeze(-1),
                          torch.full((*targets.shape, 1), -1.0, dtype=e.dtype, device=e.device))
        return grad.mul_((g / n).view(-1, 1, 1)), None


def member_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per member: logits (M, N, K), integer targets (M, N) -> (M,)."""
    if torch.compiler.is_compiling():
        m, n, k = logits.shape
        return torch.nn.functional.cross_entropy(
            logits.reshape(m * n, k), targets.reshape(m * n), reduction="none").view(m, n).mean(1)
    return _MemberCrossEntropy.apply(logits, targets)
