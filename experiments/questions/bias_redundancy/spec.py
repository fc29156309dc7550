"""bias_redundancy: parameters and arms."""

from __future__ import annotations

from ...params import Param, Schema, seeds_param

ID = "bias_redundancy"

# arm -> (norm, bias of the layer feeding it)
ARMS = {
    "bn_bias": ("batchnorm", True),
    "bn_no_bias": ("batchnorm", False),
    "no_norm_bias": ("none", True),
    "no_norm_no_bias": ("none", False),
}
PAIRS = {"bn": ("bn_bias", "bn_no_bias"), "no_norm": ("no_norm_bias", "no_norm_no_bias")}
LABELS = {
    "bn_bias": "batch norm with the bias",
    "bn_no_bias": "batch norm without the bias",
    "no_norm_bias": "no normalization with the bias",
    "no_norm_no_bias": "no normalization without the bias",
}
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam"}

SCHEMA = Schema(
    params=(
        seeds_param(5),
        Param("optimizers", "str_list", ["sgd", "adam"], "optimizers to train with",
              choices=tuple(OPTIMIZER_NAMES), max_len=2),
        Param("model", "str", "mlp", "network", choices=("mlp", "cnn")),
        Param("width", "int", 64, "hidden units (MLP) or channels (CNN)", min=4, max=512),
        Param("depth", "int", 3, "hidden layers (MLP) or conv layers (CNN)", min=1, max=6),
        Param("steps", "int", 1500, "training steps", min=10, max=50000),
        Param("batch_size", "int", 64, "training batch size", min=4, max=1024),
        Param("sgd_lr", "float", 0.05, "SGD learning rate", min=1e-5, max=2.0),
        Param("momentum", "float", 0.9, "SGD momentum", min=0.0, max=0.99),
        Param("adam_lr", "float", 0.001, "Adam learning rate", min=1e-6, max=0.1),
        Param("num_samples", "int", 5000, "MNIST-1D samples (80% train, 20% test)",
              min=500, max=50000),
    ),
    presets={
        "smoke": {"seeds": 2, "steps": 40, "width": 16, "depth": 2, "num_samples": 1000},
        "quick": {"seeds": 5, "steps": 600},
        "full": {"seeds": 10, "steps": 5000, "width": 128},
    },
)


def lr_of(p: dict, optimizer: str) -> float:
    return p["sgd_lr"] if optimizer == "sgd" else p["adam_lr"]
