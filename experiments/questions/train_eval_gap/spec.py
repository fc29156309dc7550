"""train_eval_gap: parameters and conditions."""

from __future__ import annotations

import math

from ...params import Param, Schema, seeds_param

ID = "train_eval_gap"

CONDITIONS = ("iid", "class_sorted", "small_batch", "momentum", "finetune")
LABELS = {
    "iid": "shuffled batches",
    "class_sorted": "class-sorted batches",
    "small_batch": "small batches",
    "momentum": "running-average momentum",
    "finetune_trainable": "fine-tuning with batch norm trainable",
    "finetune_frozen": "fine-tuning with batch norm frozen",
}
BASE_MOMENTUM = 0.1  # PyTorch's default: the iid condition's running-average momentum

SCHEMA = Schema(
    params=(
        seeds_param(5),
        Param("conditions", "str_list", list(CONDITIONS), "conditions to run",
              choices=CONDITIONS, max_len=len(CONDITIONS)),
        Param("width", "int", 128, "hidden units per layer", min=8, max=512),
        Param("depth", "int", 2, "hidden layers, each linear -> batch norm -> ReLU",
              min=1, max=6),
        Param("batch_size", "int", 64, "training batch size (iid, class-sorted, momentum)",
              min=8, max=512),
        Param("epochs", "int", 10, "training epochs", min=1, max=200),
        Param("lr", "float", 0.05, "SGD learning rate at the training batch size",
              min=1e-5, max=1.0),
        Param("momentum", "float", 0.9, "SGD momentum", min=0.0, max=0.99),
        Param("small_batch_size", "int", 4, "batch size of the small-batch condition",
              min=2, max=8),
        Param("small_batch_epochs", "int", 2, "epochs of the small-batch condition",
              min=1, max=50),
        Param("bn_momentums", "float_list", [0.001, 0.01, 0.1],
              "running-average momentums to sweep (weight of each new batch, PyTorch "
              "convention)", min=0.0001, max=1.0, max_len=5),
        Param("test_batch", "int", 200, "test batch size for train-mode accuracy "
              "(shuffled test batches use their own statistics)", min=16, max=1000),
        Param("finetune_batch", "int", 8, "fine-tuning batch size", min=2, max=8),
        Param("finetune_steps", "int", 300, "fine-tuning steps", min=10, max=20000),
        Param("finetune_lr", "float", 0.01, "fine-tuning learning rate", min=1e-5, max=1.0),
        Param("shift_shear", "float", 1.5, "shear of the shifted MNIST-1D used for "
              "fine-tuning (the default data use 0.75)", min=0.0, max=5.0),
        Param("shift_noise", "float", 0.5, "correlated noise of the shifted MNIST-1D (the "
              "default data use 0.25)", min=0.0, max=5.0),
        Param("finetune_samples", "int", 1000, "samples of the shifted MNIST-1D (80% train)",
              min=200, max=20000),
        Param("num_samples", "int", 5000, "MNIST-1D samples (80% train, 20% test)",
              min=500, max=50000),
    ),
    presets={
        "smoke": {"seeds": 2, "width": 16, "epochs": 1, "small_batch_epochs": 1,
                  "num_samples": 1000, "finetune_steps": 20, "finetune_samples": 500,
                  "bn_momentums": [0.001, 0.1], "test_batch": 50},
        "quick": {"seeds": 6, "width": 64, "epochs": 4, "small_batch_epochs": 1,
                  "finetune_steps": 200},
        "full": {"seeds": 10, "epochs": 20, "small_batch_epochs": 4, "finetune_steps": 1000,
                 "bn_momentums": [0.001, 0.003, 0.01, 0.03, 0.1]},
    },
)


def small_lr(p: dict) -> float:
    """The small-batch condition's learning rate: scaled by the square root of the batch."""
    return p["lr"] * math.sqrt(p["small_batch_size"] / p["batch_size"])


def momentums(p: dict) -> list[float]:
    """The swept momentums other than the base one (the iid cell is the base)."""
    return [m for m in sorted(set(p["bn_momentums"])) if m != BASE_MOMENTUM]
