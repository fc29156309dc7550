"""The noise arms of Santurkar, Tsipras, Ilyas & Madry 2018, "How Does Batch Normalization Help
Optimization?" (Sec. 2.1): a distribution shift injected after each norm at every step, to test
whether BN's benefit depends on keeping the layer inputs' distribution stable.

Registered in experiments.norms as `noisy_batchnorm` and `noisy_none`.
"""

from __future__ import annotations

import torch

from experiments.norm_layers import BatchNorm, Norm


def add_noise(y: torch.Tensor, level: float, sample_noise: float) -> torch.Tensor:
    """y * s + m + e: s ~ U(1, 1+level), m ~ U(-level, level) per member and channel, fresh each
    call; e ~ N(0, sample_noise^2) per sample and activation (Santurkar et al. 2018)."""
    m, _, c, _ = y.shape  # (M, N, C, L)
    scale = 1 + level * torch.rand(m, 1, c, 1, device=y.device, dtype=y.dtype)
    shift = level * (2 * torch.rand(m, 1, c, 1, device=y.device, dtype=y.dtype) - 1)
    return y * scale + shift + sample_noise * torch.randn_like(y)


class NoisyBatchNorm(BatchNorm):
    """BN followed, in train mode while `noise_enabled`, by Santurkar et al.'s noise (see
    `_add_noise`). Running statistics are plain BN's, gathered before the noise."""

    def __init__(self, num_features: int, members: int = 1, eps: float = 1e-5,
                 momentum: float = 0.1, level: float = 1.0, sample_noise: float = 0.1):
        super().__init__(num_features, members, eps, momentum)
        self.level, self.sample_noise = level, sample_noise
        self.noise_enabled = True

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super()._forward(x)
        if self.training and self.noise_enabled:
            return add_noise(y, self.level, self.sample_noise)
        return y


class NoisyNoNorm(Norm):
    """The same noise with no normalization: the "no norm + noise" control arm."""

    def __init__(self, num_features: int, members: int = 1, level: float = 1.0,
                 sample_noise: float = 0.1):
        super().__init__(num_features, members, affine=False)
        self.level, self.sample_noise = level, sample_noise
        self.noise_enabled = True

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.noise_enabled:
            return add_noise(x, self.level, self.sample_noise)
        return x
