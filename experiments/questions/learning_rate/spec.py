"""learning_rate: parameters, arms and the learning-rate grid."""

from __future__ import annotations

import math

from ...params import Param, Schema, seeds_param

ID = "learning_rate"

ARMS = ("batchnorm", "no_norm")
LABELS = {"batchnorm": "batch norm", "no_norm": "no normalization"}
NORMS = {"batchnorm": "batchnorm", "no_norm": "none"}
OPTIMIZER_NAMES = {"sgd": "plain SGD", "adam": "Adam"}
# 1e-3 ... 10 in steps of about x3 (science.md §5)
GRID = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]

SCHEMA = Schema(
    params=(
        seeds_param(5),
        Param("arms", "str_list", list(ARMS), "normalizations to compare", choices=ARMS,
              max_len=len(ARMS)),
        Param("lr_grid", "float_list", GRID, "learning rates to sweep", min=1e-5, max=100.0,
              max_len=12),
        Param("lrs", "float_list", [], "the asker's own learning rates: added to the grid",
              min=1e-5, max=100.0, max_len=3),
        Param("matched_lr", "float", 0.01,
              "low learning rate at which the arms are compared head to head (the grid value "
              "nearest to it)", min=1e-5, max=100.0),
        Param("optimizers", "str_list", ["sgd"],
              "optimizers: plain SGD (no momentum) and, for the caveat, Adam",
              choices=tuple(OPTIMIZER_NAMES), max_len=2),
        Param("depth", "int", 6, "hidden layers of the MLP", min=2, max=16),
        Param("width", "int", 256, "hidden units of the MLP", min=8, max=1024),
        Param("steps", "int", 2000, "training steps at every learning rate", min=10,
              max=50000),
        Param("batch_size", "int", 64, "training batch size", min=8, max=1024),
        Param("num_samples", "int", 5000, "MNIST-1D samples (80% train, 20% test)",
              min=500, max=50000),
    ),
    presets={
        "smoke": {"seeds": 2, "lr_grid": [0.01, 0.3, 10.0], "depth": 3, "width": 16,
                  "steps": 30, "num_samples": 1000},
        "quick": {"seeds": 5, "width": 64, "steps": 400},
        "full": {"seeds": 10, "optimizers": ["sgd", "adam"], "steps": 2000},
    },
)


def grid(p: dict) -> list[float]:
    return sorted(set(p["lr_grid"]) | set(p["lrs"]))


def matched(p: dict) -> float:
    """The grid rate nearest (in log terms) to matched_lr."""
    return min(grid(p), key=lambda lr: abs(math.log(lr / p["matched_lr"])))
