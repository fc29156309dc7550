"""Optimizers for batched models: per-member learning rates and a per-member "active" mask.

The update rules are PyTorch's (torch.optim.SGD with momentum and L2 weight decay,
torch.optim.Adam, torch.optim.AdamW), applied elementwise, so a stacked parameter trains every
member exactly as its own optimizer would. What is added is what stacking needs: a learning
rate per member (several learning rates in one model) and a mask that freezes members whose
loss went non-finite while the others go on. All state is tensors updated in place, so a
training step that calls `step()` can be captured in a CUDA graph.
"""

from __future__ import annotations

import math

import torch

from .errors import ParamError

OPTIMIZERS = ("sgd", "adam", "adamw")


class BatchedOptimizer:
    def __init__(self, params: list[tuple[torch.nn.Parameter, slice]], lr: torch.Tensor,
                 kind: str = "sgd", momentum: float = 0.9, weight_decay: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        """`params` pairs each parameter with the members it holds (its leading axis): all of
        them, or one arm's slice (models.member_parameters)."""
        if kind not in OPTIMIZERS:
            raise ParamError("optimizer", f"unknown optimizer {kind!r}; valid: "
                             f"{', '.join(OPTIMIZERS)}")
        for p, sl in params:
            if p.shape[0] != len(range(len(lr))[sl]):
                raise ValueError(f"parameter of shape {tuple(p.shape)} lacks the members axis")
        self.params, self.kind = [p for p, _ in params], kind
        self.slices = [sl for _, sl in params]
        self.momentum, self.weight_decay = momentum, weight_decay
        self.betas, self.eps = betas, eps
        self.lr = lr  # (M,) current learning rates; the trainer rewrites it in place
        # Views of lr shaped to broadcast against each parameter: (m, 1, ..., 1). Slices of a
        # tensor are views, so rewriting lr in place updates every one of them.
        self._lr_views = [lr[sl].view(-1, *([1] * (p.dim() - 1))) for p, sl in params]
        device = lr.device
        self.step_count = torch.zeros((), device=device)
        if kind == "sgd":
            self.buffers = [torch.zeros_like(p) for p in self.params]
        else:
            self.exp_avg = [torch.zeros_like(p) for p in self.params]
            self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            else:
                p.grad.zero_()

    @torch.no_grad()
    def step(self, active: torch.Tensor | None) -> None:
        """One update; members where `active` (M,) is False keep their parameters.

        `active=None` means every member is active and skips the masking (a caller that can
        read the mask cheaply, i.e. not inside a CUDA graph, saves a pass over every gradient).
        """
        if active is None:
            grads = [p.grad for p in self.params]
        else:
            # torch.where, not multiplication: a frozen member's gradient may be NaN.
            grads = [torch.where(active[sl].view(-1, *([1] * (p.dim() - 1))), p.grad, 0.0)
                     for p, sl in zip(self.params, self.slices, strict=True)]
        self.step_count += 1
        if self.kind == "sgd":
            self._sgd(grads, active)
        else:
            self._adam(grads, active)

    def _sgd(self, grads: list[torch.Tensor], active: torch.Tensor | None) -> None:
        if self.weight_decay:
            grads = torch._foreach_add(grads, self.params, alpha=self.weight_decay)
        if self.momentum:
            # buf = momentum * buf + g; starting from zeros this equals torch's first step.
            torch._foreach_mul_(self.buffers, self.momentum)
            torch._foreach_add_(self.buffers, grads)
            grads = self.buffers
        torch._foreach_addcmul_(self.params, self._active_lr(active), grads, value=-1.0)

    def _adam(self, grads: list[torch.Tensor], active: torch.Tensor | None) -> None:
        beta1, beta2 = self.betas
        lrs = self._active_lr(active)
        if self.kind == "adamw" and self.weight_decay:
            decay = [1 - lr * self.weight_decay for lr in lrs]
            torch._foreach_mul_(self.params, decay)
        elif self.weight_decay:
            grads = torch._foreach_add(grads, self.params, alpha=self.weight_decay)
        torch._foreach_lerp_(self.exp_avg, grads, 1 - beta1)
        torch._foreach_mul_(self.exp_avg_sq, beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, value=1 - beta2)
        bias1 = 1 - torch.pow(beta1, self.step_count)
        bias2_sqrt = torch.sqrt(1 - torch.pow(beta2, self.step_count))
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denom, bias2_sqrt)
        torch._foreach_add_(denom, self.eps)
        steps = torch._foreach_div(self.exp_avg, denom)
        torch._foreach_mul_(steps, [lr / bias1 for lr in lrs])
        torch._foreach_sub_(self.params, steps)

    def _active_lr(self, active: torch.Tensor | None) -> list[torch.Tensor]:
        if active is None:
            return self._lr_views
        return [lr * active[sl].view_as(lr)
                for lr, sl in zip(self._lr_views, self.slices, strict=True)]


def cosine_factor(step: int, total: int, warmup: int = 0) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


SCHEDULES = {
    "constant": lambda step, total, warmup: (step + 1) / warmup if step < warmup else 1.0,
    "cosine": cosine_factor,
    # Divide by 10 at 50% and 75% of training (the classic step schedule).
    "step": lambda step, total, warmup: (
        (step + 1) / warmup if step < warmup else 0.1 ** ((step >= total // 2) +
                                                        (step >= 3 * total // 4))),
}


def lr_factor(schedule: str, step: int, total: int, warmup: int = 0) -> float:
    try:
        return float(SCHEDULES[schedule](step, total, warmup))
    except KeyError:
        raise ParamError("schedule", f"unknown schedule {schedule!r}; valid: "
                         f"{', '.join(SCHEDULES)}") from None
