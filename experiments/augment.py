"""Data-level shifts of the training inputs, applied per member inside the training step.

The data-level counterpart of the noise Santurkar et al. (2018, Sec. 2.1) inject after batch
norm, and the "black and coloured cats" of bnlab's covariate-shift question: a random gain and
offset x * a + b of a member's whole input signal, with a ~ U(1, 1 + level) and
b ~ U(-level, level) in units of the (standardized) inputs, drawn fresh at every step. Drawn
once per batch, the batch's input distribution shifts from step to step (one step only black
cats, the next only coloured ones); drawn per sample, every batch mixes "colours", which is
ordinary augmentation. Members with level 0 get their inputs back bit for bit, so one
transform serves a batched model in which only some arms are shifted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .errors import ParamError

MODES = ("batch", "sample")  # one (a, b) per batch, or one per sample


@dataclass(frozen=True)
class ShiftArm:
    """`members` (a slice of the members axis) get gain/offset noise of `level`, per `mode`."""

    members: slice
    level: float
    mode: str = "batch"


class InputShift:
    """Callable (M, B, F) -> (M, B, F) for `Trainer(batch_transform=...)`: plain tensor ops with
    fixed shapes and no host synchronisation, so it can sit inside a captured CUDA graph."""

    def __init__(self, members: int, arms: Sequence[ShiftArm],
                 device: torch.device | str = "cpu"):
        level = torch.zeros(members)
        per_sample = torch.zeros(members, dtype=torch.bool)
        for arm in arms:
            if arm.mode not in MODES:
                raise ParamError("input_shift_mode", f"{arm.mode!r}; valid: {', '.join(MODES)}")
            if arm.level < 0:
                raise ParamError("input_shift_levels", f"must be at least 0, got {arm.level}")
            if len(range(members)[arm.members]) == 0:
                raise ValueError(f"{arm.members} selects no member of {members}")
            level[arm.members] = arm.level
            per_sample[arm.members] = arm.mode == "sample"
        self.level = level.view(-1, 1, 1).to(device)  # (M, 1, 1)
        self.per_sample = per_sample.view(-1, 1, 1).to(device)  # (M, 1, 1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        m, b, _ = x.shape  # (M, B, F)
        u = torch.rand(2, m, b, 1, device=x.device, dtype=x.dtype)  # (2, M, B, 1)
        # Batch mode: every sample of a member takes that member's first draw.
        u = torch.where(self.per_sample, u, u[:, :, :1])
        return x * gain(self.level, u[0]) + offset(self.level, u[1])


def gain(level: torch.Tensor | float, u: torch.Tensor) -> torch.Tensor:
    """U(1, 1 + level) from u ~ U(0, 1); exactly 1 where level is 0."""
    return 1 + level * u


def offset(level: torch.Tensor | float, u: torch.Tensor) -> torch.Tensor:
    """U(-level, level) from u ~ U(0, 1); exactly 0 where level is 0."""
    return level * (2 * u - 1)


def shift_samples(x: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """A fixed shifted copy of a data set (N, F): every sample its own gain and offset, drawn
    from `generator` on the CPU, e.g. test data that vary the way per-sample shifts train for."""
    u = torch.rand(2, x.shape[0], 1, generator=generator).to(x.device)  # (2, N, 1)
    return x * gain(level, u[0]) + offset(level, u[1])
