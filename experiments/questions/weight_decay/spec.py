"""weight_decay: parameters and arms."""

from __future__ import annotations

from ...params import Param, Schema, seeds_param

ID = "weight_decay"

ARMS = ("weight_decay", "exp_lr")
LABELS = {"weight_decay": "weight decay", "exp_lr": "growing learning rate, no decay"}

SCHEMA = Schema(
    params=(
        seeds_param(5),
        Param("weight_decays", "float_list", [0.0, 1e-4, 5e-4, 5e-3],
              "weight decays on the weights that feed a batch norm (L2, as in torch.optim.SGD)",
              min=0.0, max=0.1, max_len=6),
        Param("asked_weight_decays", "float_list", [],
              "the asker's own weight decays: added to the sweep, and the answer speaks to "
              "the largest", min=0.0, max=0.1, max_len=3),
        Param("exp_lr_wd", "float", 5e-3, "the decay the exp_lr arm stands in for: no decay, "
              "learning rate multiplied by (1 - lr * wd)^-2 every step (Li & Arora 2020); "
              "0 leaves the arm out", min=0.0, max=0.1),
        Param("width", "int", 128, "hidden units per layer", min=8, max=512),
        Param("depth", "int", 2, "hidden layers, each linear -> batch norm -> ReLU",
              min=1, max=6),
        Param("batch_size", "int", 64, "training batch size", min=8, max=512),
        Param("steps", "int", 6000, "training steps", min=50, max=100000),
        Param("lr", "float", 0.1, "SGD learning rate (plain SGD, no momentum, so the "
              "exp_lr arm is exactly a learning-rate schedule)", min=1e-4, max=1.0),
        Param("angle_steps", "int", 100, "last steps over which the angular step is averaged",
              min=2, max=5000),
        Param("num_samples", "int", 5000, "MNIST-1D samples (80% train, 20% test)",
              min=500, max=50000),
    ),
    presets={
        "smoke": {"seeds": 2, "weight_decays": [0.0, 5e-3], "width": 16, "steps": 100,
                  "angle_steps": 10, "num_samples": 1000},
        "quick": {"seeds": 4, "width": 64, "steps": 3000},
        "full": {"seeds": 10, "steps": 20000},
    },
)


def decays(p: dict) -> list[float]:
    return sorted({float(w) for w in (*p["weight_decays"], *p["asked_weight_decays"])})


def target_decay(p: dict) -> float:
    """The decay the answer speaks to: the asker's largest, else the largest swept."""
    return max(p["asked_weight_decays"] or decays(p))


def groups(p: dict) -> list[dict]:
    """Labels of the batched model's groups, in member order."""
    out = [{"arm": "weight_decay", "wd": wd} for wd in decays(p)]
    if p["exp_lr_wd"] > 0:
        out.append({"arm": "exp_lr", "wd": float(p["exp_lr_wd"])})
    return out
