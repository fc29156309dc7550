"""gamma_beta_undo: parameters, arms and the fixed constants of the measurements."""

from __future__ import annotations

from ...params import Param, Schema, seeds_param

ID = "gamma_beta_undo"

ARMS = ("batchnorm", "batchnorm_detached", "no_norm")
NORM_OF = {"batchnorm": "batchnorm", "batchnorm_detached": "batchnorm_detached",
           "no_norm": "none"}
AFFINE = ("batchnorm", "batchnorm_detached")  # arms with gamma and beta
LABELS = {"batchnorm": "batch norm", "batchnorm_detached": "batch norm with detached statistics",
          "no_norm": "no normalization"}
SHORT = {"batchnorm": "BN", "batchnorm_detached": "detached BN", "no_norm": "no norm"}
OPTIMIZERS = ("sgd", "adam")

# A unit counts as "undone" when its undo distance (measure.undo_distance) is below this:
# gamma within a factor exp(0.25) = 1.28 of sigma_B and no shift, or a shift of a quarter of a
# standard deviation with the scale exact.
UNDO_TOLERANCE = 0.25
PER_STEPS = 100  # movement of the input distribution is quoted per this many steps
PROBE_SAMPLES = 512  # the fixed probe batch asks for this many training samples (see probes)

SCHEMA = Schema(
    params=(
        seeds_param(5),
        Param("arms", "str_list", list(ARMS), "arms to compare", choices=ARMS,
              max_len=len(ARMS)),
        Param("optimizers", "str_list", ["sgd"],
              "optimizers, one batched model each; SGD is the main one (Adam hides the drift)",
              choices=OPTIMIZERS, max_len=len(OPTIMIZERS)),
        Param("width", "int", 100, "hidden units per layer", min=8, max=512),
        Param("depth", "int", 3, "hidden layers, each linear -> norm -> activation",
              min=2, max=6),
        Param("activation", "str", "relu", "nonlinearity", choices=("relu", "sigmoid", "tanh")),
        Param("steps", "int", 3000, "training steps", min=20, max=50000),
        Param("batch_size", "int", 64, "training batch size", min=8, max=512),
        Param("lr", "float", 0.1, "SGD learning rate; also the step of the ICS probe",
              min=1e-4, max=2.0),
        Param("momentum", "float", 0.9, "SGD momentum", min=0.0, max=0.99),
        Param("adam_lr", "float", 1e-3, "Adam learning rate", min=1e-5, max=0.1),
        Param("probe_points", "int", 15, "evaluation points after step 0 (every probe runs)",
              min=2, max=60),
        Param("landscape_steps", "float_list", [0.05, 0.1, 0.2, 0.4, 0.8],
              "step sizes eta of the landscape probe: theta - eta * gradient",
              min=1e-4, max=10.0, max_len=8),
        Param("num_samples", "int", 5000, "MNIST-1D samples (80% train, 20% test)",
              min=500, max=50000),
    ),
    presets={
        "smoke": {"seeds": 2, "steps": 60, "width": 16, "depth": 2, "batch_size": 32,
                  "probe_points": 3, "landscape_steps": [0.1, 0.4], "num_samples": 1000,
                  "optimizers": ["sgd", "adam"]},
        # quick trades training length (2,000 of the default 3,000 steps) and probe points
        # (10 of 15) for time; its headline, gamma and beta's own part in the undo distance,
        # still resolves with 5 seeds: its CI stays well clear of 0.
        "quick": {"seeds": 5, "steps": 2000, "probe_points": 10},
        "full": {"seeds": 10, "steps": 6000, "probe_points": 30,
                 "optimizers": ["sgd", "adam"]},
    },
)


def main_optimizer(optimizers: list[str]) -> str:
    return "sgd" if "sgd" in optimizers else optimizers[0]
