"""covariate_shift_generalization: parameters, arms, and the cells a run trains.

A cell is one arm at one setting: a noise level for the noisy arms, a ghost size for ghost
batch norm, an input-shift level for the input arms. Cells are trained in a fixed order that
puts arms with the same norm and options side by side, so they share one norm module per
layer (fewer splits of the batched model, faster steps).
"""

from __future__ import annotations

from dataclasses import dataclass

from ... import models
from ...errors import ParamError
from ...params import Param, Schema, seeds_param

ID = "covariate_shift_generalization"

# Training order (see the module doc): same-norm arms are neighbours.
ARMS = ("batchnorm", "input_shift", "input_augment", "no_norm", "input_shift_no_norm",
        "noisy_batchnorm", "sample_noise_batchnorm", "noisy_no_norm", "ghost_batchnorm")
NOISY = ("noisy_batchnorm", "noisy_no_norm")  # one cell per noise level
INPUT = {"input_shift": "batch", "input_augment": "sample", "input_shift_no_norm": "batch"}
NORM_OF = {"batchnorm": "batchnorm", "no_norm": "none", "noisy_batchnorm": "noisy_batchnorm",
           "sample_noise_batchnorm": "noisy_batchnorm", "noisy_no_norm": "noisy_none",
           "ghost_batchnorm": "ghost_batchnorm", "input_shift": "batchnorm",
           "input_augment": "batchnorm", "input_shift_no_norm": "none"}
RUNNING_STAT_NORMS = ("batchnorm", "noisy_batchnorm", "ghost_batchnorm")
LABELS = {
    "batchnorm": "batch norm",
    "no_norm": "no normalization",
    "noisy_batchnorm": "batch norm with shifting noise of level {level}",
    "sample_noise_batchnorm": "batch norm with per-example noise only",
    "noisy_no_norm": "no normalization with shifting noise of level {level}",
    "ghost_batchnorm": "batch norm over groups of {ghost}",
    "input_shift": "batch norm with the input shifted per batch",
    "input_augment": "batch norm with a shift per example",
    "input_shift_no_norm": "no normalization with the input shifted per batch",
}

def check(p: dict, given: set[str]) -> None:
    """Constraints between parameters, which the schema's per-value limits cannot express.

    Ghost sizes must divide the batch size and be smaller. Ghost sizes the asker did not set
    follow a batch size they did: those that do not fit are left out, and if none fits, the
    largest size that divides the batch is used, so "batch_size=8" alone is answered rather
    than refused."""
    b = p["batch_size"]
    if b > 0.8 * p["num_samples"]:
        raise ParamError("batch_size", f"{b} is larger than the training set")
    if "ghost_batchnorm" not in p["arms"]:
        return
    bad = [g for g in p["ghost_sizes"] if b % g or g >= b]
    if bad and "ghost_sizes" in given:
        raise ParamError("ghost_sizes", f"{', '.join(map(str, bad))} must divide the batch "
                         f"size {b} and be smaller (ghost size {b} is the batchnorm arm)")
    if bad:
        largest = next((d for d in range(b // 2, 1, -1) if b % d == 0), None)
        p["ghost_sizes"] = [g for g in p["ghost_sizes"] if g not in bad] or (
            [largest] if largest else [])
        if not p["ghost_sizes"]:  # a prime batch size: no ghost batch divides it
            if "arms" in given:
                raise ParamError("ghost_sizes", f"no ghost batch size divides the batch size "
                                 f"{b}; choose another batch size or leave ghost_batchnorm out")
            p["arms"] = [a for a in p["arms"] if a != "ghost_batchnorm"]


SCHEMA = Schema(
    params=(
        seeds_param(10),
        Param("arms", "str_list", list(ARMS), "arms to compare", choices=ARMS,
              max_len=len(ARMS)),
        Param("noise_levels", "float_list", [1.0, 3.0, 5.0],
              "level n of the shifting noise: per step and unit, scale ~ U(1, 1+n) and "
              "offset ~ U(-n, n) after the norm", min=0.05, max=20.0, max_len=6),
        Param("sample_noise", "float", 0.1,
              "std of the per-sample Gaussian noise added with the shifting noise (and alone "
              "in the sample_noise_batchnorm arm, which separates the two)",
              min=0.0, max=5.0),
        Param("noise_last_layer", "bool", False,
              "also add the noise in the last hidden layer, where it reaches the classifier "
              "directly"),
        Param("ghost_sizes", "int_list", [4, 8, 16, 32],
              "ghost batch sizes: batch statistics over groups of this many samples "
              "(each must divide batch_size and be smaller)", min=2, max=512, max_len=8),
        Param("input_shift_levels", "float_list", [1.0],
              "level n of the input shift: gain ~ U(1, 1+n), offset ~ U(-n, n), in units of "
              "the standardized input", min=0.05, max=10.0, max_len=4),
        Param("test_shift", "float", 1.0,
              "level of the per-sample gain and offset of the shifted test set "
              "(the 'coloured cats' seen only at test time)", min=0.0, max=10.0),
        Param("width", "int", 256, "hidden units per layer", min=8, max=1024),
        Param("depth", "int", 3, "hidden layers, each linear -> norm -> ReLU", min=2, max=6),
        Param("batch_size", "int", 128, "training batch size", min=8, max=1024),
        Param("epochs", "int", 60, "training epochs", min=1, max=500),
        Param("optimizer", "str", "adam", "optimizer", choices=("adam", "sgd")),
        Param("lr", "float", 1e-3, "learning rate", min=1e-5, max=1.0),
        Param("momentum", "float", 0.9, "SGD momentum", min=0.0, max=0.99),
        Param("num_samples", "int", 5000, "MNIST-1D samples (80% train, 20% test)",
              min=500, max=50000),
    ),
    presets={
        "smoke": {"seeds": 2, "noise_levels": [3.0], "ghost_sizes": [8], "width": 16,
                  "depth": 2, "batch_size": 32, "epochs": 1, "num_samples": 1000},
        "quick": {"seeds": 6, "noise_levels": [1.0], "ghost_sizes": [16], "width": 64,
                  "epochs": 20},
        "full": {"seeds": 10},
    },
    check=check,
)


@dataclass(frozen=True)
class Plan:
    """One cell to train: an arm at one noise level (or ghost size)."""

    arm: str
    noise: float = 0.0
    ghost_size: int | None = None

    @property
    def label(self) -> str:
        return LABELS[self.arm].format(level=f"{self.noise:g}", ghost=self.ghost_size)

    def labels(self, batch_size: int) -> dict:
        """The cell's coordinates in rows: `ghost_size` is how many samples share batch
        statistics (the batch size for plain batch norm, None without a norm)."""
        ghost = self.ghost_size if self.arm == "ghost_batchnorm" else (
            batch_size if NORM_OF[self.arm] in RUNNING_STAT_NORMS else None)
        return {"arm": self.arm, "noise": self.noise, "ghost_size": ghost}


def plan(p: dict) -> list[Plan]:
    """The cells of a run, in training order. Without per-sample noise the shifting noise is
    a pure shift, and the per-example-noise-only arm would be plain batch norm: dropped."""
    out: list[Plan] = []
    for arm in (a for a in ARMS if a in p["arms"]):
        if arm in NOISY:
            out += [Plan(arm, float(n)) for n in sorted(set(p["noise_levels"]))]
        elif arm == "ghost_batchnorm":
            out += [Plan(arm, ghost_size=g) for g in sorted(set(p["ghost_sizes"]))]
        elif arm in INPUT:
            out += [Plan(arm, float(n)) for n in sorted(set(p["input_shift_levels"]))]
        elif arm != "sample_noise_batchnorm" or p["sample_noise"] > 0:
            out.append(Plan(arm))
    return out


def norm_arm(cell: Plan, p: dict) -> models.Arm:
    seeds = p["seeds"]
    if cell.arm in NOISY:
        return models.Arm(NORM_OF[cell.arm], seeds,
                          {"level": cell.noise, "sample_noise": p["sample_noise"]})
    if cell.arm == "sample_noise_batchnorm":
        return models.Arm("noisy_batchnorm", seeds,
                          {"level": 0.0, "sample_noise": p["sample_noise"]})
    if cell.arm == "ghost_batchnorm":
        return models.Arm("ghost_batchnorm", seeds, {"ghost_size": cell.ghost_size})
    return models.Arm(NORM_OF[cell.arm], seeds)


def merged(arms: list[models.Arm]) -> list[models.Arm]:
    """Neighbouring arms with the same norm and options become one: fewer splits per layer."""
    out: list[models.Arm] = []
    for a in arms:
        if out and (out[-1].norm, out[-1].options) == (a.norm, a.options):
            out[-1] = models.Arm(a.norm, out[-1].members + a.members, a.options)
        else:
            out.append(a)
    return out
