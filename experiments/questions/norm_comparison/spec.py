"""norm_comparison: parameters, arms and how each arm is built."""

from __future__ import annotations

import math

from ... import models
from ...params import Param, Schema, seeds_param

ID = "norm_comparison"

ARMS = ("batchnorm", "layernorm", "groupnorm", "instancenorm", "no_norm")
LABELS = {"batchnorm": "batch norm", "layernorm": "layer norm", "groupnorm": "group norm",
          "instancenorm": "instance norm", "no_norm": "no normalization"}
MODEL_NAMES = {"cnn": "1-D CNN", "mlp": "MLP"}
# Instance norm normalizes each channel of each sample over its positions; an MLP unit has a
# single value per sample, so there is nothing to normalize over and the arm is not run there.
NEEDS_POSITIONS = ("instancenorm",)

def check(p: dict, given: set[str]) -> None:
    from ...errors import ParamError

    for name, width in (("cnn_channels", p["cnn_channels"]), ("mlp_width", p["mlp_width"])):
        model = name.split("_")[0]
        if model in p["models"] and "groupnorm" in p["arms"] and width % p["groups"]:
            raise ParamError("groups", f"{p['groups']} groups do not divide {name}={width}")
    if not any(arms_for(p, m) for m in p["models"]):
        raise ParamError("arms", "instance norm alone has nothing to run on an MLP")


SCHEMA = Schema(
    params=(
        seeds_param(5),
        Param("arms", "str_list", list(ARMS), "normalizations to compare", choices=ARMS,
              max_len=len(ARMS)),
        # The first network is the one the verdict speaks to at both batch sizes. The MLP
        # leads: a unit's batch-norm statistics there come from the batch alone, while the
        # CNN's also pool over positions, so the MLP is where the batch size bites first.
        Param("models", "str_list", ["mlp", "cnn"], "networks (the first leads the answer)",
              choices=("cnn", "mlp"), max_len=2),
        Param("batch_sizes", "int_list", [4, 32, 128], "batch sizes (equal epochs)",
              min=2, max=512, max_len=6),
        Param("asked_batch_sizes", "int_list", [],
              "the asker's own batch sizes: added to the sweep", min=2, max=512, max_len=3),
        Param("cnn_channels", "int", 32, "channels per conv layer", min=8, max=256),
        Param("cnn_depth", "int", 3, "conv layers", min=1, max=5),
        Param("mlp_width", "int", 128, "MLP hidden units", min=16, max=1024),
        Param("mlp_depth", "int", 2, "MLP hidden layers", min=1, max=6),
        Param("groups", "int", 8, "group norm: number of channel groups (must divide the "
              "channels and hidden units)", min=2, max=64),
        Param("epochs", "int", 10, "training epochs at every batch size", min=1, max=200),
        Param("lr", "float", 0.01, "SGD learning rate at batch size 1, times the square root "
              "of the batch size", min=1e-5, max=1.0),
        Param("lr_max", "float", 0.05, "cap on the scaled learning rate", min=1e-5, max=1.0),
        Param("momentum", "float", 0.9, "SGD momentum", min=0.0, max=0.99),
        Param("loss_target", "float", 1.0, "training-loss target for steps_to_target (nats)",
              min=0.01, max=2.3),
        Param("num_samples", "int", 5000, "MNIST-1D samples (80% train, 20% test)",
              min=500, max=50000),
    ),
    presets={
        "smoke": {"seeds": 2, "batch_sizes": [4, 32], "epochs": 1, "cnn_channels": 16,
                  "cnn_depth": 2, "mlp_width": 32, "num_samples": 1000},
        # A CPU step costs about the same at any batch size here, so the smallest batch sets
        # the time. At batch 2, batch norm on the MLP fell behind layer and group norm within
        # two epochs (2,000 steps) with every seed set tried; batch 3 did not show it reliably
        # in two epochs, batch 4 needed six, and 2,000 samples were too few. Batch 32 then
        # trains only briefly, which the limits say.
        "quick": {"seeds": 3, "batch_sizes": [2, 32], "epochs": 2, "cnn_channels": 16,
                  "cnn_depth": 2, "num_samples": 2500},
        "full": {"seeds": 10, "batch_sizes": [2, 4, 8, 32, 128], "epochs": 20},
    },
    check=check,
)


def scaled_lr(p: dict, batch_size: int) -> float:
    return min(p["lr_max"], p["lr"] * math.sqrt(batch_size))


def arms_for(p: dict, model: str) -> list[str]:
    return [a for a in p["arms"] if model == "cnn" or a not in NEEDS_POSITIONS]


def model_spec(p: dict, model: str) -> models.ModelSpec:
    if model == "cnn":
        return models.ModelSpec(kind="cnn", width=p["cnn_channels"], depth=p["cnn_depth"])
    return models.ModelSpec(kind="mlp", width=p["mlp_width"], depth=p["mlp_depth"])


def arm_spec(arm: str, p: dict, width: int) -> models.Arm:
    seeds = p["seeds"]
    if arm == "no_norm":
        return models.Arm("none", seeds)
    if arm == "groupnorm":
        return models.Arm("groupnorm", seeds, {"num_groups": p["groups"]})
    if arm == "instancenorm":  # group norm with one channel per group
        return models.Arm("groupnorm", seeds, {"num_groups": width})
    return models.Arm(arm, seeds)
