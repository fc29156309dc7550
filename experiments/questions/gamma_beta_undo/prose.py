"""gamma_beta_undo: the values that fill setup.md, why.md and limits.md.

Sizes and settings come from the run itself (the probe batch as the probes used it, the test
set as loaded). The mechanism paragraphs of why.md are chosen by the direction of the finding
that measures them, so the "Why" never states an effect this run did not show.
"""

from __future__ import annotations

from typing import Any

from ... import datasets
from ...findings import Finding
from .spec import PER_STEPS, UNDO_TOLERANCE

ARM_WORDS = {
    "batchnorm": "batch norm",
    "batchnorm_detached": "batch norm with its batch mean and standard deviation detached from "
                          "the gradient (treated as constants: the normalization outside the "
                          "gradient step of Ioffe & Szegedy 2015, Sec. 2)",
    "no_norm": "no normalization",
}


def optimizer_text(p: dict, opt: str) -> str:
    if opt == "sgd":
        return f"SGD (learning rate {p['lr']:g}, momentum {p['momentum']:g})"
    return f"Adam (learning rate {p['adam_lr']:g})"


def values(p: dict, arms: list[str], optimizers: list[str], data: datasets.Dataset,
           probe_samples: int, points: int) -> dict[str, Any]:
    return {**p, "arms_text": "; ".join(ARM_WORDS[a] for a in arms),
            "optimizers_text": " and, as a separate batched model, ".join(
                optimizer_text(p, o) for o in optimizers),
            "n_train": len(data.y_train), "n_test": len(data.y_test),
            "probe_samples": probe_samples, "points": points, "tolerance": UNDO_TOLERANCE,
            "per_steps": PER_STEPS,
            "landscape_text": ", ".join(f"{s:g}" for s in p["landscape_steps"]),
            "varied": "the normalization and the optimizer" if len(optimizers) > 1
            else "the normalization"}


REPARAM = {
    -1: "This run fits the reparameterisation view (Goodfellow, Bengio & Courville 2016, Sec. "
        "8.7.1): with batch norm the mean and spread of what each layer sees are two "
        "parameters per unit, beta and gamma, instead of the outcome of every weight below, "
        "and here that input moved more slowly than without normalization. Only the first two "
        "moments are fixed; the shape of the distribution and relations between units still "
        "change.",
    0: "Goodfellow, Bengio & Courville (2016, Sec. 8.7.1) describe batch norm as a "
       "reparameterisation that puts the mean and spread of each layer's input under two "
       "parameters per unit, beta and gamma. In this run that input did not move reliably "
       "more slowly than without normalization, so the run does not show the effect.",
    1: "Goodfellow, Bengio & Courville (2016, Sec. 8.7.1) describe batch norm as a "
       "reparameterisation that puts the mean and spread of each layer's input under two "
       "parameters per unit, beta and gamma. In this run that input moved faster with batch "
       "norm than without, so the run does not show the effect.",
    None: "Goodfellow, Bengio & Courville (2016, Sec. 8.7.1) describe batch norm as a "
          "reparameterisation that puts the mean and spread of each layer's input under two "
          "parameters per unit; this run had no arm without normalization to test it against.",
}
SCALE = {
    1: "Since the layer ignores the scale of the weights feeding it, that scale, and with it "
       "sigma_B, is free to drift while gamma sets the output scale (van Laarhoven 2017); here "
       "sigma_B changed by a larger factor than gamma did.",
    0: "Van Laarhoven (2017) points out that the layer ignores the scale of the weights "
       "feeding it, so that scale, and with it sigma_B, is free to drift; in this run sigma_B "
       "did not change by a reliably larger factor than gamma.",
    -1: "Van Laarhoven (2017) points out that the layer ignores the scale of the weights "
        "feeding it, so that scale, and with it sigma_B, is free to drift; in this run gamma "
        "changed by a larger factor than sigma_B.",
    None: "Van Laarhoven (2017) points out that the layer ignores the scale of the weights "
          "feeding it, so that scale, and with it sigma_B, is free to drift; this run had no "
          "batch-norm arm to measure it on.",
}


DRIFT = {
    1: "The detached arm is that setting, and in this run its biases did drift.",
    0: "The detached arm is that setting; in this run its biases did not grow reliably more "
       "than with batch norm.",
    -1: "The detached arm is that setting; in this run its biases grew less than with batch "
        "norm.",
    None: "This run had no detached arm beside batch norm to show it.",
}


def why_values(found: list[Finding], main: str) -> dict[str, str]:
    by = {f.key: f.direction for f in found}
    return {"reparam": REPARAM[by.get(f"input_moves_{main}")],
            "scale": SCALE[by.get(f"scale_moved_{main}")],
            "drift": DRIFT[by.get(f"bias_drift_{main}")]}


def diverged_text(row: dict) -> str:
    """'0 of 5' style: how many of the row's seeds diverged."""
    n = row["n_seeds"]
    return f"{round(row['diverged'] * n)} of {n}"
