"""Optimizers for batched models: per-member learning rates and a per-member "active" mask.

The update rules are PyTorch's (torch.optim.SGD with momentum and L2 weight decay,
torch.optim.Adam, torch.optim.AdamW), applied elementwise, so a stacked parameter trains every
member exactly as its own optimizer would. What is added is what stacking needs: a learning
rate per member (several learning rates in one model) and a mask that freezes members whose
loss went non-finite while the others go on. All parameters live in one flat buffer, so an
update is a handful of tensor ops whatever the number of layers. All state is tensors updated
in place, so a training step that calls `step()` can be captured in a CUDA graph.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .errors import ParamError

OPTIMIZERS = ("sgd", "adam", "adamw")


class BatchedOptimizer:
    def __init__(self, params: list[tuple[torch.nn.Parameter, slice]], lr: torch.Tensor,
                 kind: str = "sgd", momentum: float = 0.9, weight_decay: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        """`params` pairs each parameter with the members it holds (its leading axis): all of
        them, or one arm's slice (models.member_parameters).

        The parameters' storage moves into one flat buffer (`flatten`), so every update below
        is a few passes over one tensor instead of a loop over parameters. Build the optimizer
        after the model has moved to its device.
        """
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
        self.flat, self.member_of = flatten(params, lr.device)  # (P,) each
        self._views = [p.data for p in self.params]
        self.grad = torch.zeros_like(self.flat)  # (P,) the gradients of the last backward
        self._no_grad = [torch.zeros_like(p) for p in self.params]
        self._lr_flat = lr[self.member_of]  # (P,) lr of each value's member
        self._lr_version = lr._version  # in-place rewrites of lr bump it
        self.step_count = torch.zeros((), device=lr.device)
        names = ("momentum_buffer",) if kind == "sgd" else ("exp_avg", "exp_avg_sq")
        self._state = {n: torch.zeros_like(self.flat) for n in names}  # (P,) each
        # The same state cut into one view per parameter, for `step_grads`.
        self._state_views = {n: _segments(t, self.params) for n, t in self._state.items()}

    def zero_grad(self) -> None:
        """Drop the parameters' gradients: the next backward gives each a fresh one."""
        for p, view in zip(self.params, self._views, strict=True):
            if p.data_ptr() != view.data_ptr():
                raise RuntimeError("a parameter left the optimizer's flat buffer (moved to "
                                   "another device?); build the optimizer after moving")
            p.grad = None

    @torch.no_grad()
    def step(self, active: torch.Tensor | None) -> None:
        """One update from the parameters' .grad; members where `active` (M,) is False keep
        their parameters.

        `active=None` means every member is active and skips the masking (a caller that can
        read the mask cheaply, i.e. not inside a CUDA graph, saves a pass over the gradient).
        """
        grads = [p.grad if p.grad is not None else zero
                 for p, zero in zip(self.params, self._no_grad, strict=True)]
        torch.cat([g.reshape(-1) for g in grads], out=self.grad)
        if active is None:
            if self.lr._version != self._lr_version:  # rewritten since the last gather
                torch.index_select(self.lr, 0, self.member_of, out=self._lr_flat)
                self._lr_version = self.lr._version
            grad, lr = self.grad, self._lr_flat
        else:
            # Always gathered: in a captured graph this line replays, the check above not.
            keep = active[self.member_of]  # (P,)
            lr = (self.lr * active)[self.member_of]
            # torch.where, not multiplication: a frozen member's gradient may be NaN.
            grad = torch.where(keep, self.grad, 0.0)
        self.step_count += 1
        self._update(self.flat, grad, lr, self._state)

    @torch.no_grad()
    def step_grads(self, grads: Sequence[torch.Tensor], active: torch.Tensor) -> None:
        """The same update from explicit gradients (one per parameter), parameter by parameter,
        with the members' learning rates and mask broadcast along each one's members axis.

        For a step traced whole by torch.compile: there a per-value gather (`member_of`) would
        become an indirect load in every fused kernel, measured 8x slower than broadcasting,
        and the compiler fuses the per-parameter updates into a few loops anyway.
        """
        self.step_count += 1
        lr = self.lr * active
        for i, (p, sl, g) in enumerate(zip(self.params, self.slices, grads, strict=True)):
            shape = (-1,) + (1,) * (p.dim() - 1)
            g = torch.where(active[sl].view(shape), g, 0.0)
            self._update(p.data, g, lr[sl].view(shape),
                         {k: views[i] for k, views in self._state_views.items()})

    def _update(self, param: torch.Tensor, grad: torch.Tensor, lr: torch.Tensor,
                state: dict[str, torch.Tensor]) -> None:
        """The update rule on one tensor of parameters and its state (flat or one parameter's
        segment); `lr` broadcasts against it."""
        if self.kind == "sgd":
            self._sgd(param, grad, lr, state["momentum_buffer"])
        else:
            self._adam(param, grad, lr, state["exp_avg"], state["exp_avg_sq"])

    def _sgd(self, param: torch.Tensor, grad: torch.Tensor, lr: torch.Tensor,
             buf: torch.Tensor) -> None:
        if self.weight_decay:
            grad = torch.add(grad, param, alpha=self.weight_decay)
        if self.momentum:
            # buf = momentum * buf + g; starting from zeros this equals torch's first step.
            grad = torch.add(grad, buf, alpha=self.momentum, out=buf)
        param.addcmul_(lr, grad, value=-1.0)

    def _adam(self, param: torch.Tensor, grad: torch.Tensor, lr: torch.Tensor,
              exp_avg: torch.Tensor, exp_avg_sq: torch.Tensor) -> None:
        beta1, beta2 = self.betas
        if self.kind == "adamw" and self.weight_decay:
            param.mul_(1 - lr * self.weight_decay)
        elif self.weight_decay:
            grad = torch.add(grad, param, alpha=self.weight_decay)
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias1 = 1 - torch.pow(beta1, self.step_count)
        bias2_sqrt = torch.sqrt(1 - torch.pow(beta2, self.step_count))
        denom = (exp_avg_sq.sqrt() / bias2_sqrt).add_(self.eps)
        param.sub_(torch.div(exp_avg, denom).mul_(lr / bias1))


def flatten(params: list[tuple[torch.nn.Parameter, slice]], device: torch.device
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Move every parameter into one flat buffer, each a contiguous view of its own segment
    (so .data and the gradient layouts are those of an ordinary parameter).

    Returns the buffer (P,) and, for each of its values, the member it belongs to (P,), which
    turns the (M,) learning rates and masks into per-value ones with one gather.
    """
    if len({(p.dtype, p.device) for p, _ in params}) > 1:
        raise ValueError("all parameters must share one dtype and device")
    dtype = params[0][0].dtype if params else torch.float32
    flat = torch.zeros(sum(p.numel() for p, _ in params), dtype=dtype, device=device)
    members, off = [], 0
    for p, sl in params:
        view = flat[off:off + p.numel()].view(p.shape)
        view.copy_(p.detach())
        p.data = view
        rows = torch.arange(sl.start or 0, (sl.start or 0) + p.shape[0], device=device)
        members.append(rows.repeat_interleave(p[0].numel()))
        off += p.numel()
    member_of = torch.cat(members) if members else torch.zeros(0, dtype=torch.long)
    return flat, member_of


def _segments(flat: torch.Tensor, params: list[torch.nn.Parameter]) -> list[torch.Tensor]:
    """Views of `flat` shaped like each parameter, in the order `flatten` laid them out."""
    views, off = [], 0
    for p in params:
        views.append(flat[off:off + p.numel()].view(p.shape))
        off += p.numel()
    return views


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
