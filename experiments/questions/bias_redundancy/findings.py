"""bias_redundancy: the findings and the verdict.

Three measured claims (science.md §10): with batch norm the bias gradient is zero to
round-off, so training with and without the bias follows the same trajectory to float
tolerance; Adam rescales that round-off into steps of ordinary size, so the bias wanders
without any effect; without batch norm the bias is a real parameter and changes training.
Round-off quantities span many orders of magnitude, so they are compared as powers of ten.
"""

from __future__ import annotations

import numpy as np

from ...findings import Finding, Side, Verdict, compare, divergence, estimate
from ...runner import SCORED_AS_CHANCE, Cells
from .measure import TOLERANCE
from .spec import LABELS, OPTIMIZER_NAMES

ROUND_OFF = -6.0  # log10 of a bias/weight gradient ratio that is round-off (science.md §10)

BN_GRAD_TEXT = {
    -1: "With batch norm, the bias gradient was zero to round-off: at most 10^{mean} of the "
        "weight gradient's norm (95% CI 10^{lo} to 10^{hi}, {n} seeds).",
    0: "With batch norm, the bias gradient reached 10^{mean} of the weight gradient's norm "
       "(95% CI 10^{lo} to 10^{hi}, {n} seeds), not clearly round-off.",
    1: "With batch norm, the bias gradient reached 10^{mean} of the weight gradient's norm "
       "(95% CI 10^{lo} to 10^{hi}, {n} seeds), above round-off.",
}
PLAIN_GRAD_TEXT = {
    1: "Without batch norm, the bias had a real gradient: up to 10^{mean} of the weight "
       "gradient's norm (95% CI 10^{lo} to 10^{hi}, {n} seeds).",
    0: "Without batch norm, the bias gradient reached 10^{mean} of the weight gradient's norm "
       "(95% CI 10^{lo} to 10^{hi}, {n} seeds).",
    -1: "Without batch norm, the bias gradient stayed at round-off level, 10^{mean} of the "
        "weight gradient's norm (95% CI 10^{lo} to 10^{hi}, {n} seeds).",
}
BN_TRAJECTORY_TEXT = {
    -1: "With {optimizer} and batch norm, training with and without the bias matched to float "
        "tolerance: the losses differed by at most 10^{mean} (95% CI 10^{lo} to 10^{hi}).",
    0: "With {optimizer} and batch norm, the losses with and without the bias differed by up "
       "to 10^{mean} (95% CI 10^{lo} to 10^{hi}), not clearly within float tolerance.",
    1: "With {optimizer} and batch norm, the losses with and without the bias differed by up "
       "to 10^{mean} (95% CI 10^{lo} to 10^{hi}), beyond float tolerance.",
}
PLAIN_TRAJECTORY_TEXT = {
    1: "Without batch norm, the bias changed training: with {optimizer}, the losses with and "
       "without it differed by up to {mean} (95% CI {lo} to {hi}, {n} seeds).",
    0: "Without batch norm, with {optimizer}, the losses with and without the bias differed "
       "by up to {mean} (95% CI {lo} to {hi}, {n} seeds).",
    -1: "Without batch norm, with {optimizer}, the losses with and without the bias still "
        "matched to float tolerance (at most {mean}; 95% CI {lo} to {hi}).",
}
DRIFT_TEXT = {
    1: "Under {optimizer}, the bias before batch norm still wandered, by {mean} in norm over "
       "training (95% CI {lo} to {hi}): its round-off gradient is rescaled into real steps.",
    0: "Under {optimizer}, the bias before batch norm moved {mean} in norm over training "
       "(95% CI {lo} to {hi}).",
    -1: "Under {optimizer}, the bias before batch norm stayed put: it moved {mean} in norm "
        "over training (95% CI {lo} to {hi}).",
}
MATCHED_TEXT = {
    1: "With {optimizer} and batch norm, the twin runs matched to float tolerance for the "
       "first {mean} steps on average (95% CI {lo} to {hi}), after which tiny differences "
       "grew.",
    0: "With {optimizer} and batch norm, the twin runs matched to float tolerance for the "
       "first {mean} steps on average (95% CI {lo} to {hi}).",
    -1: "With {optimizer} and batch norm, the twin runs matched to float tolerance for the "
        "first {mean} steps on average (95% CI {lo} to {hi}).",
}
ACC_TEXT = {
    0: "With batch norm and {optimizer}, dropping the bias did not change test accuracy "
       "reliably: {mean_a} with it, {mean_b} without (difference {diff}, 95% CI {lo} to "
       "{hi}, {n} seeds).",
    1: "With batch norm and {optimizer}, test accuracy was {mean_a} with the bias and "
       "{mean_b} without, {size} higher (95% CI {size_lo} to {size_hi}, {n} seeds).",
    -1: "With batch norm and {optimizer}, test accuracy was {mean_a} with the bias and "
        "{mean_b} without, {size} lower (95% CI {size_lo} to {size_hi}, {n} seeds).",
}
MOVED = 1e-3  # a bias that moved less than this (in norm) over training stayed put


def log10_side(side: Side) -> Side:
    with np.errstate(divide="ignore", invalid="ignore"):
        return Side(side.label, np.log10(np.asarray(side.values, float)), side.diverged)


def gradient(cells: Cells, arm: str, opt: str, texts: dict, key: str, importance: float
             ) -> Finding | None:
    if not cells.has(arm=arm, optimizer=opt):
        return None
    side = cells.get(arm=arm, optimizer=opt).side(LABELS[arm], "bias_grad_ratio")
    return estimate(key, "largest bias-to-weight gradient ratio (log10)", log10_side(side),
                    texts, threshold=ROUND_OFF, importance=importance, digits=1)


def trajectory(cells: Cells, pair: str, opt: str, importance: float) -> Finding | None:
    if not cells.has(pair=pair, optimizer=opt):
        return None
    side = cells.get(pair=pair, optimizer=opt).side(pair, "max_loss_diff")
    context = {"optimizer": OPTIMIZER_NAMES[opt]}
    if pair == "bn":
        return estimate(f"trajectory_bn_{opt}", "largest training-loss difference (log10)",
                        log10_side(side), BN_TRAJECTORY_TEXT, threshold=np.log10(TOLERANCE),
                        importance=importance, digits=1, context=context)
    return estimate(f"trajectory_no_norm_{opt}", "largest training-loss difference", side,
                    PLAIN_TRAJECTORY_TEXT, threshold=TOLERANCE, importance=importance,
                    digits=3, context=context)


def matched_steps(cells: Cells, opt: str) -> Finding | None:
    """When the twin runs separate, for how long they matched first."""
    if not cells.has(pair="bn", optimizer=opt):
        return None
    side = cells.get(pair="bn", optimizer=opt).side("bn", "steps_matched")
    if np.nanmin(side.values) >= cells.get(pair="bn", optimizer=opt).extra.get("steps", 0):
        return None
    return estimate(f"matched_steps_bn_{opt}", "steps matched to float tolerance", side,
                    MATCHED_TEXT, threshold=0.0, importance=0.5, digits=0,
                    context={"optimizer": OPTIMIZER_NAMES[opt]})


def accuracy(cells: Cells, opt: str) -> Finding | None:
    if not (cells.has(arm="bn_bias", optimizer=opt) and cells.has(arm="bn_no_bias",
                                                                   optimizer=opt)):
        return None
    a, b = (cells.get(arm=arm, optimizer=opt).side(LABELS[arm], "test_acc")
            for arm in ("bn_bias", "bn_no_bias"))
    return compare(f"bn_bias_vs_no_bias_acc_{opt}", "test accuracy", a, b, importance=0.7,
                   texts=ACC_TEXT, context={"optimizer": OPTIMIZER_NAMES[opt]})


def drift(cells: Cells, opt: str, importance: float) -> Finding | None:
    if not cells.has(arm="bn_bias", optimizer=opt):
        return None
    side = cells.get(arm="bn_bias", optimizer=opt).side(LABELS["bn_bias"], "bias_drift")
    return estimate(f"bias_drift_bn_{opt}", "bias drift", side, DRIFT_TEXT, threshold=MOVED,
                    importance=importance, digits=3,
                    context={"optimizer": OPTIMIZER_NAMES[opt]})


def findings(cells: Cells, optimizers: list[str]) -> list[Finding]:
    first = optimizers[0]
    out = [gradient(cells, "bn_bias", first, BN_GRAD_TEXT, "bn_bias_gradient", 0.95),
           trajectory(cells, "bn", first, 0.9),
           trajectory(cells, "no_norm", first, 0.8),
           accuracy(cells, first),
           matched_steps(cells, first),
           gradient(cells, "no_norm_bias", first, PLAIN_GRAD_TEXT, "no_norm_bias_gradient",
                    0.4)]
    for opt in optimizers:
        out.append(drift(cells, opt, 0.6 if opt == "adam" else 0.3))
        if opt != first:
            out += [trajectory(cells, "bn", opt, 0.55), trajectory(cells, "no_norm", opt, 0.3)]
    for cell in cells:
        if "arm" in cell.labels:
            arm, opt = cell.labels["arm"], cell.labels["optimizer"]
            out.append(divergence(f"diverged_{arm}_{opt}", cell.side(LABELS[arm], "test_acc"),
                                  SCORED_AS_CHANCE,
                                  context={"where": f" with {OPTIMIZER_NAMES[opt]}"}))
    return [f for f in out if f is not None]


def verdict(found: list[Finding], optimizers: list[str]) -> Verdict:
    by = {f.key: f for f in found}
    first = optimizers[0]
    grad, same = by.get("bn_bias_gradient"), by.get(f"trajectory_bn_{first}")
    if grad is None or same is None:
        return Verdict("This run had no batch-norm arms with and without the bias, so it "
                       "cannot answer the question.", ())
    acc = by.get(f"bn_bias_vs_no_bias_acc_{first}")
    keys = [grad.key, same.key]
    if grad.direction == -1 and same.direction == -1:
        text = ("Because batch norm subtracts the batch mean, which cancels any constant "
                "added before it: the bias gets no gradient beyond round-off, and dropping "
                "it changed nothing.")
    elif grad.direction == -1 and acc is not None and acc.direction == 0:
        text = ("Because batch norm subtracts the batch mean, which cancels any constant "
                "added before it: the bias gets no gradient beyond round-off, and dropping "
                "it did not change test accuracy.")
        keys = [grad.key, acc.key, same.key]
    else:
        text = ("In this run the bias before batch norm was not clearly inert: its gradient "
                "or its effect on the loss was not at round-off level, so check the findings.")
    plain = by.get(f"trajectory_no_norm_{first}")
    if plain is not None and plain.direction == 1:
        text += " Without batch norm the bias does change training."
        keys.append(plain.key)
    walk, walk_same = by.get("bias_drift_bn_adam"), by.get("trajectory_bn_adam")
    if walk is not None and walk_same is not None and walk.direction == 1 \
            and walk_same.direction == -1:
        text += " Under Adam the useless bias still wanders, harmlessly."
        keys.append(walk.key)
    return Verdict(text, tuple(keys))
