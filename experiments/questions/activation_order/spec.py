"""activation_order: parameters, arms and how each arm is built."""

from __future__ import annotations

from ... import models
from ...params import Param, Schema, seeds_param

ID = "activation_order"

ARMS = ("bn_before_act", "bn_after_act", "no_norm")
LABELS = {
    "bn_before_act": "batch norm before ReLU",
    "bn_after_act": "batch norm after ReLU",
    "no_norm": "no normalization",
}
MODEL_NAMES = {"mlp": "the MLP", "cnn": "the CNN"}

SCHEMA = Schema(
    params=(
        seeds_param(10),
        Param("arms", "str_list", list(ARMS), "orders to compare", choices=ARMS,
              max_len=len(ARMS)),
        Param("models", "str_list", ["mlp", "cnn"], "networks to run each order in",
              choices=("mlp", "cnn"), max_len=2),
        Param("lrs", "float_list", [0.01, 0.05, 0.2], "learning rates to sweep (paired seeds)",
              min=1e-5, max=2.0, max_len=5),
        Param("mlp_width", "int", 128, "hidden units of the MLP", min=8, max=1024),
        Param("mlp_depth", "int", 4, "hidden layers of the MLP", min=1, max=8),
        Param("cnn_width", "int", 25, "channels of the CNN", min=4, max=256),
        Param("cnn_depth", "int", 3, "conv layers of the CNN", min=1, max=4),
        Param("epochs", "int", 20, "training epochs", min=1, max=200),
        Param("batch_size", "int", 64, "training batch size", min=4, max=1024),
        Param("optimizer", "str", "sgd", "optimizer", choices=("sgd", "adam")),
        Param("momentum", "float", 0.9, "SGD momentum", min=0.0, max=0.99),
        Param("num_samples", "int", 5000, "MNIST-1D samples (80% train, 20% test)",
              min=500, max=50000),
    ),
    presets={
        "smoke": {"seeds": 2, "lrs": [0.05, 0.2], "epochs": 1, "mlp_width": 32,
                  "cnn_width": 8, "num_samples": 1000},
        "quick": {"seeds": 6, "lrs": [0.05, 0.2], "epochs": 4, "mlp_width": 64,
                  "cnn_width": 16},
        "full": {"seeds": 20, "lrs": [0.01, 0.05, 0.2], "epochs": 30},
    },
)


def model_spec(p: dict, kind: str, position: str) -> models.ModelSpec:
    width, depth = ((p["mlp_width"], p["mlp_depth"]) if kind == "mlp"
                    else (p["cnn_width"], p["cnn_depth"]))
    return models.ModelSpec(kind=kind, width=width, depth=depth, norm_position=position)


def norm_of(arm: str) -> str:
    return "none" if arm == "no_norm" else "batchnorm"


def position_of(arm: str) -> str:
    """Norm position of the model an arm trains in; no_norm shares the 'before' model."""
    return "after" if arm == "bn_after_act" else "before"
