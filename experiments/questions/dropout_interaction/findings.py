"""dropout_interaction: the findings and the verdict.

Per width: the cost of putting dropout before batch norm is its test accuracy against dropout
before the classifier at the same rate, paired by seed; the variance shift is the first
batch norm after a dropout's running variance over what it sees at test time, against Li et
al.'s 1 / (1 - p); train-mode accuracy (test-batch statistics, dropout off) shows whether the
loss sits in the running statistics rather than in the weights.
"""

from __future__ import annotations

from ...findings import Finding, Side, Verdict, compare, divergence, estimate
from ...runner import SCORED_AS_CHANCE, Cells
from .spec import LABELS

COST_TEXT = {
    1: "At dropout {p} (width {width}), dropout before each batch norm reached {mean_a} test "
       "accuracy against {mean_b} before the classifier, {size} higher (95% CI {size_lo} "
       "to {size_hi}, {n} seeds).",
    0: "At dropout {p} (width {width}), where dropout went made no reliable difference: "
       "{mean_a} before each batch norm against {mean_b} before the classifier (95% CI {lo} "
       "to {hi}).",
    -1: "At dropout {p} (width {width}), dropout before each batch norm reached {mean_a} "
        "test accuracy against {mean_b} before the classifier, {size} lower (95% CI "
        "{size_lo} to {size_hi}, {n} seeds).",
}
SHIFT_TEXT = {
    1: "With dropout {p} before it, batch norm's running variance was {mean} times the "
       "variance it sees at test time, above the {predicted} that 1 / (1 - p) predicts (95% "
       "CI {lo} to {hi}).",
    0: "With dropout {p} before it, batch norm's running variance was {mean} times the "
       "variance it sees at test time, as 1 / (1 - p) = {predicted} predicts (95% CI {lo} "
       "to {hi}).",
    -1: "With dropout {p} before it, batch norm's running variance was {mean} times the "
        "variance it sees at test time, below the {predicted} that 1 / (1 - p) predicts "
        "(95% CI {lo} to {hi}).",
}
RECOVER_TEXT = {
    1: "With dropout {p} before each batch norm, normalizing test batches with their own "
       "statistics instead of the running ones raised test accuracy from {mean_b} to "
       "{mean_a}: part of the loss sits in the running statistics.",
    0: "With dropout {p} before each batch norm, test-batch statistics did not score "
       "reliably differently from the running ones ({mean_a} against {mean_b}; 95% CI {lo} "
       "to {hi}).",
    -1: "With dropout {p} before each batch norm, test-batch statistics scored {mean_a} "
        "against {mean_b} with the running ones, lower (95% CI {lo} to {hi}).",
}
WIDTH_TEXT = {
    1: "At dropout {p}, the cost of dropout before batch norm was {size} larger at width "
       "{wide} than at width {narrow} (95% CI {size_lo} to {size_hi}).",
    0: "At dropout {p}, the cost of dropout before batch norm did not differ reliably between "
       "widths {narrow} and {wide} (difference {diff}, 95% CI {lo} to {hi}).",
    -1: "At dropout {p}, the cost of dropout before batch norm was {size} smaller at width "
        "{wide} than at width {narrow} (95% CI {size_lo} to {size_hi}).",
}


def _cost(cells: Cells, p: float, width: int) -> Side | None:
    bn = cells.find(placement="before_bn", p=p, width=width)
    head = cells.find(placement="before_classifier", p=p, width=width)
    if bn is None or head is None:
        return None
    return Side(f"width {width}", head.values["test_acc"] - bn.values["test_acc"],
                bn.diverged | head.diverged)


def per_width(cells: Cells, width: int, rates: list[float], weight: float) -> list:
    out: list[Finding | None] = []
    for p in rates:
        bn = cells.find(placement="before_bn", p=p, width=width)
        head = cells.find(placement="before_classifier", p=p, width=width)
        ctx = {"p": p, "width": width}
        if bn is not None and head is not None:
            out.append(compare(f"cost_p{p:g}_w{width}", "test accuracy",
                               bn.side(LABELS["before_bn"], "test_acc"),
                               head.side(LABELS["before_classifier"], "test_acc"),
                               texts=COST_TEXT, importance=weight * (0.6 + 0.4 * p),
                               context=ctx))
        if bn is not None:
            out.append(estimate(f"variance_shift_p{p:g}_w{width}", "variance ratio",
                                bn.side("before batch norm", "var_ratio"), SHIFT_TEXT,
                                threshold=1 / (1 - p), importance=weight * 0.5,
                                context={**ctx, "predicted": round(1 / (1 - p), 3)}))
            out.append(compare(f"recovered_p{p:g}_w{width}", "test accuracy",
                               bn.side("test-batch statistics", "train_mode_acc"),
                               bn.side("running statistics", "test_acc"), texts=RECOVER_TEXT,
                               importance=weight * 0.55, context=ctx))
    return out


def findings(cells: Cells, widths: list[int], rates: list[float]) -> list[Finding]:
    out: list[Finding | None] = []
    for k, width in enumerate(widths):
        out += per_width(cells, width, rates, 1.0 if k == 0 else 0.7)
    if len(widths) > 1 and rates:
        p = max(rates)
        narrow, wide = _cost(cells, p, widths[0]), _cost(cells, p, widths[-1])
        if narrow is not None and wide is not None:
            out.append(compare("width_cost", "cost", wide, narrow, texts=WIDTH_TEXT,
                               importance=0.6, context={"p": p, "narrow": widths[0],
                                                        "wide": widths[-1]}))
    for cell in cells:
        lab = cell.labels
        name = f"{LABELS[lab['placement']]} {lab['p']:g} (width {lab['width']})"
        out.append(divergence(f"diverged_{lab['placement']}_p{lab['p']:g}_w{lab['width']}",
                              cell.side(name, "test_acc"), SCORED_AS_CHANCE))
    return [f for f in out if f is not None]


def verdict(found: list[Finding], width: int, rates: list[float],
            target: float | None = None) -> Verdict:
    """`target`: the rate the answer speaks to (default: the largest)."""
    by = {f.key: f for f in found}
    costs = [by[f"cost_p{p:g}_w{width}"] for p in rates if f"cost_p{p:g}_w{width}" in by]
    if not costs:
        return Verdict("This run had no pair of placements to compare at the same rate.", ())
    hurt = [f for f in costs if f.direction == -1]
    top = by.get(f"cost_p{target:g}_w{width}", costs[-1]) if target is not None else costs[-1]
    keys = [top.key]
    if hurt:
        rates_text = ", ".join(f"{f.values['p']:g}" for f in hurt)
        parts = ["Use it, but after the last batch norm, just before the classifier: placed "
                 f"before batch-norm layers it cost test accuracy at dropout {rates_text}."]
    elif any(f.direction == 1 for f in costs):
        parts = ["Here dropout before batch norm did better than before the classifier, "
                 "unlike Li et al.'s finding."]
    else:
        parts = ["Where dropout goes made no reliable difference to test accuracy here."]
    p = top.values["p"]
    shift = by.get(f"variance_shift_p{p:g}_w{width}")
    recovered = by.get(f"recovered_p{p:g}_w{width}")
    if shift is not None and shift.mean_a > 1 and shift.diff_ci95[0] > 1:
        keys.append(shift.key)
        parts.append("Part of the cause is a variance shift: batch norm's running variance, "
                     "collected with dropout on, is too large for the test-time input.")
    if recovered is not None and recovered.direction == 1 and hurt:
        parts.append("Normalizing test batches with their own statistics instead raised "
                     "its test accuracy.")
    width_cost = by.get("width_cost")
    if width_cost is not None and width_cost.direction == -1:
        parts.append("Wider layers shrank the cost.")
    return Verdict(" ".join(parts), tuple(keys))
