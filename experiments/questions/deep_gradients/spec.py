"""deep_gradients: parameters, arms and how each arm is built."""

from __future__ import annotations

import math

from ... import models
from ...params import Param, Schema, seeds_param

ID = "deep_gradients"

ARMS = ("batchnorm", "no_norm", "batchnorm_linear", "batchnorm_eps")
LABELS = {
    "batchnorm": "batch norm with ReLU",
    "no_norm": "ReLU without normalization",
    "batchnorm_linear": "batch norm without a nonlinearity",
    "batchnorm_eps": "batch norm with a large epsilon",
}
PHASES = ("init", "trained")

SCHEMA = Schema(
    params=(
        seeds_param(3),
        Param("arms", "str_list", list(ARMS), "networks to compare", choices=ARMS,
              max_len=len(ARMS)),
        Param("depths", "int_list", [4, 8, 16, 32], "numbers of hidden layers", min=3,
              max=128, max_len=6),
        Param("width", "int", 256, "hidden units per layer", min=16, max=2048),
        Param("batch_size", "int", 128, "batch size (of the measured batch and in training)",
              min=16, max=1024),
        Param("large_eps", "float", 1.0,
              "epsilon of the batch-norm-with-a-large-epsilon arm (the others use 1e-5)",
              min=1e-3, max=100.0),
        Param("train_steps", "int", 30, "plain SGD steps before the 'trained' measurement",
              min=1, max=5000),
        Param("lr", "float", 0.1, "learning rate of those steps", min=1e-6, max=1.0),
        Param("num_samples", "int", 5000, "MNIST-1D samples (80% train, 20% test)",
              min=500, max=50000),
    ),
    presets={
        "smoke": {"seeds": 2, "depths": [3, 4, 6], "width": 32, "batch_size": 32,
                  "train_steps": 5, "num_samples": 1000},
        "quick": {"seeds": 3},
        "full": {"seeds": 10, "depths": [5, 10, 20, 40], "width": 512},
    },
)

# Yang et al. (2019): the squared gradient norm of a wide BN-ReLU network grows by pi/(pi-1)
# per layer toward the input as the batch grows; linear BN by (B-2)/(B-3). On the norm itself,
# the square roots of these.
RELU_RATE = math.sqrt(math.pi / (math.pi - 1))


def linear_rate(batch_size: int) -> float:
    return math.sqrt((batch_size - 2) / (batch_size - 3))


def groups(arms: list[str]) -> list[tuple[str, list[str]]]:
    """(activation, arms) per batched model: the activation is a property of the network."""
    relu = [a for a in arms if a != "batchnorm_linear"]
    linear = [a for a in arms if a == "batchnorm_linear"]
    return [(act, g) for act, g in (("relu", relu), ("linear", linear)) if g]


def arm_spec(arm: str, p: dict) -> models.Arm:
    if arm == "no_norm":
        return models.Arm("none", p["seeds"])
    if arm == "batchnorm_eps":
        return models.Arm("batchnorm", p["seeds"], {"eps": p["large_eps"]})
    return models.Arm("batchnorm", p["seeds"])
