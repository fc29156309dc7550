"""activation_order: the findings and the verdict.

The headline is the paired difference in test accuracy, batch norm before ReLU minus after,
for every network and learning rate run. An order is named as the winner only where that
difference's 95% CI excludes 0; everywhere else the answer says there was no reliable
difference, which is what the literature leads one to expect (science.md §4).
"""

from __future__ import annotations

from ...findings import Finding, Verdict, compare, divergence
from ...runner import SCORED_AS_CHANCE, Cells
from .spec import LABELS, MODEL_NAMES

ACC = "test accuracy"
WHERE = "For {model} at learning rate {lr}, "

ORDER_TEXT = {
    1: WHERE + "batch norm before ReLU won: {mean_a} test accuracy against {mean_b} after, "
               "{size} higher (95% CI {size_lo} to {size_hi}, {n} seeds).",
    -1: WHERE + "batch norm after ReLU won: {mean_b} test accuracy against {mean_a} before, "
                "{size} higher (95% CI {size_lo} to {size_hi}, {n} seeds).",
    0: WHERE + "the order made no reliable difference: {mean_a} test accuracy before ReLU, "
               "{mean_b} after (difference {diff}, 95% CI {lo} to {hi}, {n} seeds).",
}
NORM_TEXT = {
    1: WHERE + "{a} beat no normalization: {mean_a} test accuracy against {mean_b}, "
               "{size} higher (95% CI {size_lo} to {size_hi}, {n} seeds).",
    -1: WHERE + "no normalization beat {a}: {mean_b} test accuracy against {mean_a}, "
                "{size} higher (95% CI {size_lo} to {size_hi}, {n} seeds).",
    0: WHERE + "{a} and no normalization did not differ reliably: {mean_a} against {mean_b} "
               "test accuracy (difference {diff}, 95% CI {lo} to {hi}, {n} seeds).",
}
INPUT_TEXT = {
    1: WHERE + "layers after the first received inputs with mean {mean_a} with batch norm "
               "before ReLU (half-rectified) and {mean_b} with it after (centred; "
               "difference {diff}, 95% CI {lo} to {hi}).",
    0: WHERE + "the inputs of later layers had mean {mean_a} with batch norm before ReLU "
               "and {mean_b} after it (difference {diff}, 95% CI {lo} to {hi}).",
    -1: WHERE + "the inputs of later layers had mean {mean_a} with batch norm before ReLU "
                "and {mean_b} after it (difference {diff}, 95% CI {lo} to {hi}).",
}


def lr_text(lr: float) -> str:
    return f"{lr:g}"


def order_key(model: str, lr: float) -> str:
    return f"before_vs_after_{model}_lr{lr_text(lr)}"


def where(model: str, lr: float) -> dict:
    return {"model": MODEL_NAMES[model], "lr": lr_text(lr)}


def side(cells: Cells, arm: str, model: str, lr: float, metric: str = "test_acc"):
    return cells.get(arm=arm, model=model, lr=lr).side(LABELS[arm], metric)


def has(cells: Cells, model: str, lr: float, *arms: str) -> bool:
    return all(cells.has(arm=a, model=model, lr=lr) for a in arms)


def order(cells: Cells, model: str, lr: float, importance: float) -> Finding | None:
    if not has(cells, model, lr, "bn_before_act", "bn_after_act"):
        return None
    return compare(order_key(model, lr), ACC, side(cells, "bn_before_act", model, lr),
                   side(cells, "bn_after_act", model, lr), importance=importance,
                   texts=ORDER_TEXT, context=where(model, lr))


def versus_no_norm(cells: Cells, arm: str, model: str, lr: float) -> Finding | None:
    if not has(cells, model, lr, arm, "no_norm"):
        return None
    return compare(f"{arm}_vs_no_norm_{model}_lr{lr_text(lr)}", ACC,
                   side(cells, arm, model, lr), side(cells, "no_norm", model, lr),
                   importance=0.3, texts=NORM_TEXT, context=where(model, lr))


def layer_inputs(cells: Cells, model: str, lr: float) -> Finding | None:
    """The mechanism: what the next layer is fed, measured rather than asserted."""
    if not has(cells, model, lr, "bn_before_act", "bn_after_act"):
        return None
    metric = "input_mean"
    return compare(f"layer_input_mean_{model}_lr{lr_text(lr)}", "mean of later layers' inputs",
                   side(cells, "bn_before_act", model, lr, metric),
                   side(cells, "bn_after_act", model, lr, metric), importance=0.5,
                   texts=INPUT_TEXT, context=where(model, lr))


def findings(cells: Cells, models: list[str], lrs: list[float]) -> list[Finding]:
    out: list[Finding | None] = []
    for i, model in enumerate(models):
        for j, lr in enumerate(lrs):
            out.append(order(cells, model, lr, 1.0 if (i, j) == (0, 0) else 0.8))
    out.append(layer_inputs(cells, models[0], lrs[0]))
    for model in models:
        for lr in lrs:
            for arm in ("bn_before_act", "bn_after_act"):
                out.append(versus_no_norm(cells, arm, model, lr))
    for cell in cells:
        arm, model, lr = cell.labels["arm"], cell.labels["model"], cell.labels["lr"]
        out.append(divergence(f"diverged_{arm}_{model}_lr{lr_text(lr)}",
                              cell.side(LABELS[arm], "test_acc"), SCORED_AS_CHANCE,
                              context={"where": f" for {MODEL_NAMES[model]} at learning rate "
                                                f"{lr_text(lr)}"}))
    return [f for f in out if f is not None]


def _setting(f: Finding) -> str:
    return f"for {f.values['model']} at learning rate {f.values['lr']}"


def verdict(found: list[Finding], models: list[str], lrs: list[float]) -> Verdict:
    by = {f.key: f for f in found}
    orders = [by[k] for k in (order_key(m, lr) for m in models for lr in lrs) if k in by]
    if not orders:
        return Verdict("This run had no before and after arms to compare, so it cannot "
                       "answer the question.", ())
    won = [f for f in orders if f.direction]
    if not won:
        return Verdict("No reliable difference: neither order of batch norm and ReLU gave "
                       "reliably higher test accuracy, for any network or learning rate "
                       "tried.", (orders[0].key,))
    names = {1: "before", -1: "after"}
    if len(won) == len(orders) and len({f.direction for f in won}) == 1:
        return Verdict(f"Batch norm {names[won[0].direction]} ReLU did better in every "
                       "setting tried, by a margin outside seed noise.",
                       tuple(f.key for f in won[:2]))
    listed = ", and ".join(f"batch norm {names[f.direction]} ReLU won {_setting(f)}"
                           for f in won[:2])
    more = " One order also won in other settings; the findings list them." if len(won) > 2 \
        else ""
    lead = ("Mostly no reliable difference." if 2 * len(won) < len(orders)
            else "It depends on the setting.")
    return Verdict(f"{lead} {listed[0].upper()}{listed[1:]}.{more} "
                   "Elsewhere the order did not matter beyond seed noise.",
                   tuple(f.key for f in won[:2]))
