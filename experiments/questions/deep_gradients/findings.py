"""deep_gradients: the findings and the verdict, against Yang et al. (2019).

The headline is the per-layer growth of ||dL/dW|| toward the input at initialisation for batch
norm with ReLU at the deepest depth, beside the rate mean-field theory predicts for wide
networks and large batches. The controls say where it comes from: a He-initialised network
without normalization, batch norm without the nonlinearity, and batch norm with a large
epsilon; a short training run shows how quickly it fades.
"""

from __future__ import annotations

from ...findings import Finding, Verdict, compare, divergence, estimate
from ...runner import Cells
from .spec import LABELS, RELU_RATE, linear_rate

METRIC = "gradient growth per layer"
GROWTH = "grad_growth_per_layer"

HEAD_TEXT = {
    1: "At initialisation, with batch norm and ReLU ({depth} layers), the weight gradient "
       "grew {mean} times per layer toward the input (95% CI {lo} to {hi}, {n} seeds); "
       "theory predicts {theory}.",
    0: "At initialisation, with batch norm and ReLU ({depth} layers), the weight gradient "
       "did not grow reliably toward the input: {mean} per layer (95% CI {lo} to {hi}).",
    -1: "At initialisation, with batch norm and ReLU ({depth} layers), the weight gradient "
        "shrank toward the input: {mean} per layer (95% CI {lo} to {hi}, {n} seeds).",
}
CONTROL_TEXT = {
    1: "{a} ({depth} layers): the gradient grew {mean} times per layer toward the input "
       "(95% CI {lo} to {hi}){theory_note}.",
    0: "{a} ({depth} layers): the gradient stayed flat, {mean} per layer toward the input "
       "(95% CI {lo} to {hi}){theory_note}.",
    -1: "{a} ({depth} layers): the gradient shrank slightly, {mean} per layer toward the "
        "input (95% CI {lo} to {hi}){theory_note}.",
}
VERSUS_TEXT = {
    1: "{a} grew the gradient faster per layer than {b} ({mean_a} against {mean_b}; ratio "
       "{diff}, 95% CI {lo} to {hi}, {depth} layers).",
    0: "{a} and {b} grew the gradient at similar rates per layer ({mean_a} against {mean_b}; "
       "ratio {diff}, 95% CI {lo} to {hi}, {depth} layers).",
    -1: "{a} damped the growth of the gradient compared with {b}: {mean_a} against {mean_b} "
        "per layer (ratio {diff}, 95% CI {lo} to {hi}, {depth} layers).",
}
TRAINED_TEXT = {
    -1: "After {steps} SGD steps, the growth with batch norm and ReLU fell to {mean_a} per "
        "layer from {mean_b} at initialisation (ratio {diff}, 95% CI {lo} to {hi}).",
    0: "After {steps} SGD steps, the growth with batch norm and ReLU stayed at {mean_a} per "
       "layer against {mean_b} at initialisation (ratio {diff}, 95% CI {lo} to {hi}).",
    1: "After {steps} SGD steps, the growth with batch norm and ReLU rose to {mean_a} per "
       "layer from {mean_b} at initialisation (ratio {diff}, 95% CI {lo} to {hi}).",
}


def growth(cells: Cells, arm: str, depth: int, phase: str = "init"):
    cell = cells.find(arm=arm, depth=depth, phase=phase, layer=None)
    return None if cell is None else cell.side(LABELS[arm], GROWTH)


def headline(cells: Cells, depth: int) -> Finding | None:
    side = growth(cells, "batchnorm", depth)
    if side is None:
        return None
    return estimate("batchnorm_growth", METRIC, side, HEAD_TEXT, threshold=1.0,
                    importance=1.0, digits=3,
                    context={"depth": depth, "theory": f"{RELU_RATE:.3f}"})


def control(cells: Cells, arm: str, depth: int, batch_size: int) -> Finding | None:
    side = growth(cells, arm, depth)
    if side is None:
        return None
    note = (f"; theory predicts {linear_rate(batch_size):.3f}" if arm == "batchnorm_linear"
            else "")
    return estimate(f"{arm}_growth", METRIC, side, CONTROL_TEXT, threshold=1.0,
                    importance=0.6 if arm == "no_norm" else 0.5, digits=3,
                    context={"depth": depth, "theory_note": note})


def versus(cells: Cells, arm: str, depth: int, importance: float) -> Finding | None:
    a, b = growth(cells, arm, depth), growth(cells, "batchnorm", depth)
    if a is None or b is None:
        return None
    return compare(f"{arm}_vs_batchnorm_growth", METRIC, a, b, ratio=True, digits=3,
                   importance=importance, texts=VERSUS_TEXT, context={"depth": depth})


def trained(cells: Cells, depth: int, steps: int) -> Finding | None:
    a, b = growth(cells, "batchnorm", depth, "trained"), growth(cells, "batchnorm", depth)
    if a is None or b is None:
        return None
    return compare("batchnorm_growth_trained", METRIC, a, b, ratio=True, digits=3,
                   importance=0.7, texts=TRAINED_TEXT, context={"steps": steps})


def findings(cells: Cells, depths: list[int], batch_size: int, steps: int) -> list[Finding]:
    deep = max(depths)
    out = [headline(cells, deep), control(cells, "no_norm", deep, batch_size),
           control(cells, "batchnorm_linear", deep, batch_size),
           versus(cells, "batchnorm_eps", deep, 0.55), versus(cells, "no_norm", deep, 0.3),
           trained(cells, deep, steps)]
    for cell in cells:
        if cell.labels["layer"] is None and cell.labels["phase"] == "trained":
            arm, depth = cell.labels["arm"], cell.labels["depth"]
            out.append(divergence(f"diverged_{arm}_depth{depth}",
                                  cell.side(f"{LABELS[arm]} at depth {depth}", GROWTH),
                                  "missing in the trained measurement", importance=0.2,
                                  context={"where": " during the short training run"}))
    return [f for f in out if f is not None]


def verdict(found: list[Finding]) -> Verdict:
    by = {f.key: f for f in found}
    head = by.get("batchnorm_growth")
    if head is None:
        return Verdict("This run had no batch-norm arm to measure, so it cannot answer the "
                       "question.", ())
    keys = [head.key]
    parts = [{1: "No: at initialisation, batch norm with ReLU makes the gradient explode "
                 "toward the input, by a steady factor per layer, instead of fixing it.",
              0: "Not clearly: in this run, batch norm with ReLU neither grew nor shrank the "
                 "gradient reliably from layer to layer at initialisation.",
              -1: "In this run, batch norm with ReLU made the gradient shrink toward the input "
                  "at initialisation, unlike what theory predicts."}[head.direction]]
    plain = by.get("no_norm_vs_batchnorm_growth")
    if plain is not None and plain.direction == -1 and head.direction == 1:
        parts.append("A He-initialised network without normalization stayed much closer to "
                     "flat.")
        keys.append("no_norm_growth" if "no_norm_growth" in by else plain.key)
    after = by.get("batchnorm_growth_trained")
    if after is not None and after.direction == -1:
        parts.append("A short spell of training shrank the growth.")
        keys.append(after.key)
    return Verdict(" ".join(parts), tuple(keys))
