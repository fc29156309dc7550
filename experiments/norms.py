"""Normalization layers for batched models, looked up by name: `make_norm("batch_renorm", C, M)`.

Every activation carries a leading members axis M, (M, N, C) or (M, N, C, L), and no statistic
is ever shared between members. All forwards are plain tensor ops without host synchronisation,
so a whole training step can be captured in one CUDA graph. The layers are defined in
experiments.norm_layers and, for the noise arms, experiments.noisy_norms; this module is their
registry and the train-mode evaluation switch.

Implemented:
- batchnorm: Ioffe & Szegedy 2015, "Batch Normalization: Accelerating Deep Network Training by
  Reducing Internal Covariate Shift" (Alg. 1 and 2; PyTorch's momentum and variance conventions).
- batchnorm_detached: the same with mu_B and var_B outside the gradient, the failure that paper's
  Sec. 2 describes.
- ewa_forward: running (exponentially averaged) statistics in the training forward pass too,
  outside the gradient; the naive small-batch fix that Ioffe 2017 argues against.
- batch_renorm: Ioffe 2017, "Batch Renormalization: Towards Reducing Minibatch Dependence in
  Batch-Normalized Models".
- groupnorm, layernorm: Wu & He 2018, "Group Normalization"; Ba, Kiros & Hinton 2016,
  "Layer Normalization".
- ghost_batchnorm: Hoffer, Hubara & Soudry 2017, "Train longer, generalize better: closing the
  generalization gap in large batch training of neural networks".
- noisy_batchnorm, noisy_none: Santurkar, Tsipras, Ilyas & Madry 2018, "How Does Batch
  Normalization Help Optimization?" (Sec. 2.1, noise injected after BN).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

from experiments.errors import ParamError
from experiments.noisy_norms import NoisyBatchNorm, NoisyNoNorm
from experiments.norm_layers import (
    BatchNorm,
    BatchRenorm,
    DetachedBatchNorm,
    GhostBatchNorm,
    GroupNorm,
    LayerNorm,
    NoNorm,
    Norm,
    RunningStatsNorm,
)

__all__ = ["NORMS", "BatchNorm", "BatchRenorm", "DetachedBatchNorm", "GhostBatchNorm",
           "GroupNorm", "LayerNorm", "NoNorm", "NoisyBatchNorm", "NoisyNoNorm", "Norm",
           "RunningStatsNorm", "make_norm", "norm_name", "norm_names", "train_mode_eval"]

NORMS: dict[str, type[Norm]] = {
    "none": NoNorm,
    "batchnorm": BatchNorm,
    "batchnorm_detached": DetachedBatchNorm,
    "ewa_forward": RunningStatsNorm,
    "batch_renorm": BatchRenorm,
    "groupnorm": GroupNorm,
    "layernorm": LayerNorm,
    "ghost_batchnorm": GhostBatchNorm,
    "noisy_batchnorm": NoisyBatchNorm,
    "noisy_none": NoisyNoNorm,
}


def norm_names() -> list[str]:
    return list(NORMS)


def norm_name(norm: nn.Module) -> str:
    """The registry name of a norm instance (its exact class, so subclasses are told apart)."""
    for name, cls in NORMS.items():
        if type(norm) is cls:
            return name
    raise ValueError(f"{type(norm).__name__} is not a registered norm")


def make_norm(name: str, num_features: int, members: int = 1, **options) -> Norm:
    """The norm registered as `name`; unknown names and options raise ParamError."""
    if name not in NORMS:
        raise ParamError("norm", f"unknown norm {name!r}; valid: {', '.join(NORMS)}")
    cls = NORMS[name]
    valid = [p for p in inspect.signature(cls).parameters
             if p not in ("num_features", "members")]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ParamError("norm", f"unknown option(s) {', '.join(unknown)} for {name}; "
                                 f"valid: {', '.join(valid) or 'none'}")
    return cls(num_features, members, **options)


@contextmanager
def train_mode_eval(model: nn.Module, group: int | None) -> Iterator[nn.Module]:
    """Evaluate in train mode: every Norm uses batch statistics over groups of `group` samples
    (None: each norm's own grouping, e.g. a ghost batch norm's ghost size, as in training) and
    leaves its buffers alone; all flags are restored on exit."""
    norms = [m for m in model.modules() if isinstance(m, Norm)]
    saved_norms = [(n.stat_group, n.update_stats) for n in norms]
    saved_training = [(m, m.training) for m in model.modules()]
    try:
        for n in norms:
            n.stat_group, n.update_stats = group, False
        model.train()
        yield model
    finally:
        for n, (stat_group, update_stats) in zip(norms, saved_norms, strict=True):
            n.stat_group, n.update_stats = stat_group, update_stats
        for m, training in saved_training:
            m.training = training
