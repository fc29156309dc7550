"""weight_decay: the findings and the verdict.

What is measured against what: the weight norm with no decay (does it grow?), the strongest
decay against none (norm, effective learning rate, accuracy), the measured angular step
against Li & Arora's equilibrium sqrt(2 * lr * wd), and the exp_lr arm against the decay it
stands in for.
"""

from __future__ import annotations

from ...findings import Finding, Side, Verdict, compare, divergence, estimate
from ...runner import SCORED_AS_CHANCE, Cells
from .spec import LABELS

GROWTH_TEXT = {
    1: "Without weight decay, the weights feeding batch norm grew {mean} times in norm over "
       "training (95% CI {lo} to {hi}, {n} seeds).",
    0: "Without weight decay, the norm of the weights feeding batch norm did not change "
       "reliably (end over start {mean}, 95% CI {lo} to {hi}).",
    -1: "Without weight decay, the weights feeding batch norm shrank to {mean} of their "
        "starting norm (95% CI {lo} to {hi}).",
}
NORM_TEXT = {
    1: "With weight decay {wd}, the weights ended {diff} times as large as without decay "
       "(95% CI {lo} to {hi}).",
    0: "With weight decay {wd}, the weights did not end reliably smaller than without decay "
       "(ratio {diff}, 95% CI {lo} to {hi}).",
    -1: "With weight decay {wd}, the weights ended at {diff} times the norm they reached "
        "without decay (95% CI {lo} to {hi}).",
}
EFFECTIVE_TEXT = {
    1: "Weight decay {wd} kept the effective learning rate (learning rate over the squared "
       "weight norm) {diff} times as high as without decay (95% CI {lo} to {hi}).",
    0: "The effective learning rate (learning rate over the squared weight norm) did not "
       "differ reliably from no decay (ratio {diff}, 95% CI {lo} to {hi}).",
    -1: "The effective learning rate (learning rate over the squared weight norm) ended "
        "{diff} times that without decay, lower (95% CI {lo} to {hi}).",
}
ANGLE_TEXT = {
    1: "With decay {wd}, the weights turned {mean} times the angle per step that Li & "
       "Arora's equilibrium predicts ({predicted} radians; 95% CI {lo} to {hi}): more.",
    0: "With decay {wd}, the weights turned by the angle per step that Li & Arora's "
       "equilibrium predicts, {predicted} radians (measured over predicted {mean}, 95% CI "
       "{lo} to {hi}).",
    -1: "With decay {wd}, the weights turned only {mean} times the {predicted} radians per "
        "step that Li & Arora's equilibrium predicts (95% CI {lo} to {hi}): not there yet.",
}
EXP_TEXT = {
    1: "Growing the learning rate instead of decaying (no decay, rate times (1 - lr x wd) to "
       "the -2 every step) reached {mean_a} test accuracy against {mean_b} with decay {wd}, "
       "{size} higher (95% CI {size_lo} to {size_hi}).",
    0: "Growing the learning rate instead of decaying (no decay, rate times (1 - lr x wd) to "
       "the -2 every step) matched decay {wd} within noise: {mean_a} against {mean_b} test "
       "accuracy (95% CI {lo} to {hi}).",
    -1: "Growing the learning rate instead of decaying (no decay, rate times (1 - lr x wd) to "
        "the -2 every step) reached {mean_a} test accuracy against {mean_b} with decay {wd}, "
        "{size} lower (95% CI {size_lo} to {size_hi}).",
}


def _growth(cell) -> Side:
    v = cell.values
    return Side("no decay", v["w_norm_end"] / v["w_norm_start"], cell.diverged)


def findings(cells: Cells, target: float | None = None) -> list[Finding]:
    """`target`: the decay compared with none (default: the largest run)."""
    decays = sorted(cells.where(arm="weight_decay"), key=lambda c: c.labels["wd"])
    none = next((c for c in decays if c.labels["wd"] == 0), None)
    strong = (cells.find(arm="weight_decay", wd=target) if target is not None
              else decays[-1] if decays else None)
    strong = strong if strong is not None and strong.labels["wd"] > 0 else None
    out: list[Finding | None] = []
    if none is not None:
        out.append(estimate("growth_no_decay", "weight growth", _growth(none), GROWTH_TEXT,
                            threshold=1.0, importance=0.8))
    if none is not None and strong is not None:
        wd = strong.labels["wd"]
        label = f"weight decay {wd:g}"
        out.append(compare("norm_decay_vs_none", "weight norm at the end",
                           strong.side(label, "w_norm_end"), none.side("no decay", "w_norm_end"),
                           ratio=True, texts=NORM_TEXT, importance=0.7, context={"wd": wd}))
        out.append(compare("effective_lr_decay_vs_none", "effective learning rate",
                           strong.side(label, "effective_lr_end"),
                           none.side("no decay", "effective_lr_end"), ratio=True,
                           texts=EFFECTIVE_TEXT, importance=0.9, context={"wd": wd}))
        out.append(compare("accuracy_decay_vs_none", "test accuracy",
                           strong.side(label, "test_acc"), none.side("no decay", "test_acc"),
                           importance=0.85))
    for cell in decays:
        wd = cell.labels["wd"]
        if wd > 0:
            predicted = cell.extra["predicted_angular_step"]
            ratio = cell.values["angular_step_end"] / predicted
            out.append(estimate(f"angle_wd{wd:g}", "angular step", Side(
                f"decay {wd:g}", ratio, cell.diverged), ANGLE_TEXT, threshold=1.0,
                importance=0.6 if cell is strong else 0.3,
                context={"wd": wd, "predicted": float(f"{predicted:.3g}")}))
    exp = cells.find(arm="exp_lr")
    twin = cells.find(arm="weight_decay", wd=exp.labels["wd"]) if exp is not None else None
    if exp is not None and twin is not None:
        out.append(compare("exp_lr_vs_decay", "test accuracy",
                           exp.side(LABELS["exp_lr"], "test_acc"),
                           twin.side(f"weight decay {exp.labels['wd']:g}", "test_acc"),
                           texts=EXP_TEXT, importance=0.75, context={"wd": exp.labels["wd"]}))
    for cell in cells:
        name = (LABELS["exp_lr"] if cell.labels["arm"] == "exp_lr"
                else f"weight decay {cell.labels['wd']:g}")
        out.append(divergence(f"diverged_{cell.labels['arm']}_{cell.labels['wd']:g}",
                              cell.side(name, "test_acc"), SCORED_AS_CHANCE))
    return [f for f in out if f is not None]


def verdict(found: list[Finding]) -> Verdict:
    by = {f.key: f for f in found}
    parts = ["Batch norm removes the scale of the weights feeding it, so decay cannot change "
             "what the layer computes, only how fast it learns."]
    keys: list[str] = []
    grew, eff = by.get("growth_no_decay"), by.get("effective_lr_decay_vs_none")
    if grew is not None and eff is not None:
        keys += [eff.key]
        if grew.direction == 1 and eff.direction == 1:
            parts.append("Without decay the weights grew and their effective learning rate "
                         "fell; decay kept it up.")
        elif eff.direction == 1:
            parts.append("Decay kept their effective learning rate up.")
        else:
            parts.append("Here decay did not measurably keep the effective learning rate up.")
    acc = by.get("accuracy_decay_vs_none")
    if acc is not None:
        keys.append(acc.key)
        parts.append({1: "That raised test accuracy here.",
                      0: "Test accuracy did not change reliably here.",
                      -1: "That lowered test accuracy here."}[acc.direction])
    exp = by.get("exp_lr_vs_decay")
    if exp is not None:
        parts.append({0: "A growing learning rate without decay matched it within noise.",
                      1: "A growing learning rate without decay did better still.",
                      -1: "A growing learning rate without decay did worse than decay."}[
                          exp.direction])
    return Verdict(" ".join(parts), tuple(keys))
