"""dropout_interaction: parameters and groups."""

from __future__ import annotations

from ...params import Param, Schema, seeds_param

ID = "dropout_interaction"

PLACEMENTS = ("before_bn", "before_classifier")
LABELS = {"before_bn": "dropout before each batch norm",
          "before_classifier": "dropout before the classifier", "none": "no dropout"}

SCHEMA = Schema(
    params=(
        seeds_param(5),
        Param("dropout_rates", "float_list", [0.1, 0.3, 0.5], "dropout rates p above 0 (0, no "
              "dropout, always runs)", min=0.01, max=0.9, max_len=5),
        Param("asked_dropouts", "float_list", [], "the asker's own rates: added to the "
              "sweep, and the answer speaks to the largest", min=0.01, max=0.9, max_len=3),
        Param("placements", "str_list", list(PLACEMENTS), "where dropout goes",
              choices=PLACEMENTS, max_len=2),
        Param("widths", "int_list", [256, 1024], "hidden units per layer (one model each)",
              min=16, max=2048, max_len=3),
        Param("depth", "int", 4, "hidden layers, each linear -> batch norm -> ReLU",
              min=2, max=8),
        Param("batch_size", "int", 128, "training batch size", min=8, max=1024),
        Param("epochs", "int", 30, "training epochs", min=1, max=500),
        Param("optimizer", "str", "adam", "optimizer", choices=("adam", "sgd")),
        Param("lr", "float", 1e-3, "learning rate", min=1e-5, max=1.0),
        Param("test_batch", "int", 200, "test batch size for train-mode accuracy",
              min=16, max=1000),
        Param("num_samples", "int", 5000, "MNIST-1D samples (80% train, 20% test)",
              min=500, max=50000),
    ),
    presets={
        "smoke": {"seeds": 2, "dropout_rates": [0.5], "widths": [32], "depth": 3, "epochs": 1,
                  "num_samples": 1000, "test_batch": 50},
        "quick": {"seeds": 4, "dropout_rates": [0.1, 0.5], "widths": [256], "epochs": 6},
        "full": {"seeds": 10},
    },
)


def rates(p: dict) -> list[float]:
    return sorted({float(r) for r in (*p["dropout_rates"], *p["asked_dropouts"])})


def target_rate(p: dict) -> float:
    """The rate the answer speaks to: the asker's largest, else the largest swept."""
    return max(p["asked_dropouts"] or rates(p))


def groups(p: dict) -> list[dict]:
    out = [{"placement": "none", "p": 0.0}]
    for placement in dict.fromkeys(p["placements"]):
        out += [{"placement": placement, "p": r} for r in rates(p)]
    return out
