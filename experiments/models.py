"""Models for MNIST-1D, batched over members: an MLP and the reference 1-D CNN.

The norm is chosen by name (experiments.norms registry), placed before or after the
activation, and the layer feeding it may keep or drop its bias. Members can be split into arms
that use different norms (`NormArms`), so several arms train in one batched model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from . import norms
from .errors import ParamError
from .layers import ACTIVATIONS, Conv1d, Linear, member_generators


@dataclass(frozen=True)
class Arm:
    """One norm configuration; `members` consecutive members use it."""

    norm: str
    members: int
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSpec:
    kind: str = "mlp"  # "mlp" | "cnn"
    width: int = 128  # hidden units (mlp) or channels (cnn)
    depth: int = 2  # hidden layers (mlp) or conv layers (cnn)
    norm: str = "batchnorm"
    norm_options: dict[str, Any] = field(default_factory=dict)
    norm_position: str = "before"  # "before" or "after" the activation
    activation: str = "relu"
    bias: bool = True  # bias of the layer that feeds each norm

    def __post_init__(self):
        if self.kind not in MODELS:
            raise ParamError("model", f"unknown model {self.kind!r}; valid: {', '.join(MODELS)}")
        if self.norm_position not in ("before", "after"):
            raise ParamError("norm_position", "valid: before, after")
        if self.activation not in ACTIVATIONS:
            raise ParamError("activation", f"valid: {', '.join(ACTIVATIONS)}")


class NormArms(nn.Module):
    """Different norms on consecutive member slices: (M, ...) split along M, then joined."""

    def __init__(self, arms: Sequence[Arm], num_features: int):
        super().__init__()
        self.sizes = [a.members for a in arms]
        self.arms = nn.ModuleList(
            norms.make_norm(a.norm, num_features, a.members, **a.options) for a in arms)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.split(x, self.sizes, dim=0)
        return torch.cat([norm(p) for norm, p in zip(self.arms, parts, strict=True)], dim=0)


def make_member_norm(spec: ModelSpec, arms: Sequence[Arm] | None, num_features: int,
                     members: int) -> nn.Module:
    if arms is None:
        return norms.make_norm(spec.norm, num_features, members, **spec.norm_options)
    if sum(a.members for a in arms) != members:
        raise ValueError("arms must cover every member exactly once")
    if len(arms) == 1:
        a = arms[0]
        return norms.make_norm(a.norm, num_features, members, **a.options)
    return NormArms(arms, num_features)


def member_parameters(model: nn.Module) -> list[tuple[nn.Parameter, slice]]:
    """Every parameter with the members it holds: an arm's norm holds only its own slice."""
    members = None
    owned: list[tuple[nn.Parameter, slice]] = []
    in_arms: set[int] = set()
    for module in model.modules():
        if isinstance(module, NormArms):
            start = 0
            for size, norm in zip(module.sizes, module.arms, strict=True):
                for p in norm.parameters():
                    owned.append((p, slice(start, start + size)))
                    in_arms.add(id(p))
                start += size
            members = start
    rest = [p for p in model.parameters() if id(p) not in in_arms]
    if members is None:
        members = rest[0].shape[0] if rest else 0
    return owned + [(p, slice(0, members)) for p in rest]


class Block(nn.Module):
    """layer -> [norm] -> activation -> [norm]; records what the nonlinearity sees."""

    def __init__(self, layer: nn.Module, norm: nn.Module, activation: str, position: str):
        super().__init__()
        self.layer, self.norm = layer, norm
        self.act = ACTIVATIONS[activation]
        self.position = position
        self.recorded: torch.Tensor | None = None
        self.record = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.layer(x)
        if self.position == "before":
            z = self.norm(z)
        if self.record:
            self.recorded = z.detach()  # the activation's input, as in Ioffe & Szegedy Fig. 1
        a = self.act(z)
        return self.norm(a) if self.position == "after" else a


class Network(nn.Module):
    """Blocks then a linear classifier; `forward` maps (M, N, F) to logits (M, N, K)."""

    def __init__(self, blocks: list[Block], head: nn.Module, conv: bool):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.head = head
        self.conv = conv

    @property
    def members(self) -> int:
        return int(self.head.weight.shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.unsqueeze(2) if self.conv else x  # (M, N, 1, L) for the CNN
        for block in self.blocks:
            h = block(h)
        if self.conv:
            h = h.flatten(2)  # (M, N, C*L)
        return self.head(h)

    def norm_layers(self) -> list[nn.Module]:
        return [b.norm for b in self.blocks]


def mlp(spec: ModelSpec, seeds: Sequence[int], n_in: int, n_classes: int,
        arms: Sequence[Arm] | None = None) -> Network:
    gens = member_generators(seeds)
    blocks, width_in = [], n_in
    for _ in range(spec.depth):
        layer = Linear(width_in, spec.width, gens, bias=spec.bias)
        norm = make_member_norm(spec, arms, spec.width, len(seeds))
        blocks.append(Block(layer, norm, spec.activation, spec.norm_position))
        width_in = spec.width
    return Network(blocks, Linear(width_in, n_classes, gens), conv=False)


def cnn(spec: ModelSpec, seeds: Sequence[int], n_in: int, n_classes: int,
        arms: Sequence[Arm] | None = None) -> Network:
    """MNIST-1D's ConvBase shape: conv k=5 then k=3 layers, stride 2, padding 1."""
    gens = member_generators(seeds)
    blocks, channels, length = [], 1, n_in
    for i in range(spec.depth):
        k = 5 if i == 0 else 3
        layer = Conv1d(channels, spec.width, k, gens, stride=2, padding=1, bias=spec.bias)
        norm = make_member_norm(spec, arms, spec.width, len(seeds))
        blocks.append(Block(layer, norm, spec.activation, spec.norm_position))
        channels, length = spec.width, (length + 2 - k) // 2 + 1
    return Network(blocks, Linear(channels * length, n_classes, gens), conv=True)


MODELS = {"mlp": mlp, "cnn": cnn}


def build(spec: ModelSpec, seeds: Sequence[int], n_in: int, n_classes: int,
          arms: Sequence[Arm] | None = None) -> Network:
    """A batched network with one member per seed (arms, if given, split the members)."""
    return MODELS[spec.kind](spec, seeds, n_in, n_classes, arms)


@torch.no_grad()
def he_init(model: Network) -> Network:
    """He et al. (2015) initialisation of every block's layer, in place: the default draws
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) scaled by sqrt(6), so U(-sqrt(6/fan_in), sqrt(6/fan_in))
    with variance 2/fan_in (the same draws, so seeds still pair), and zero biases. The head
    keeps its default initialisation."""
    for block in model.blocks:
        block.layer.weight.mul_(math.sqrt(6.0))
        if block.layer.bias is not None:
            block.layer.bias.zero_()
    return model


@torch.no_grad()
def copy_shared_parameters(source: nn.Module, target: nn.Module) -> None:
    """Copy every parameter and buffer that `target` shares by name and shape with `source`:
    a model without biases then starts from exactly the weights of one with them."""
    own = dict(source.named_parameters()) | dict(source.named_buffers())
    for name, t in [*target.named_parameters(), *target.named_buffers()]:
        if name in own and own[name].shape == t.shape:
            t.copy_(own[name])
