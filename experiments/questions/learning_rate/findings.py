"""learning_rate: the findings and the verdict.

The headline is the ratio of the largest stable learning rates with and without batch norm,
per seed (so it has a confidence interval), quoted beside each arm's max stable rate over all
seeds. Two accuracy comparisons put it in context: at a matched low rate, where the literature
expects the two to end up similar, and each arm at its own best rate (science.md §5).
"""

from __future__ import annotations

from ...findings import Finding, Verdict, compare, divergence
from ...runner import SCORED_AS_CHANCE, Cells
from .spec import LABELS, OPTIMIZER_NAMES

RATIO_TEXT = {
    1: "With {optimizer}, the largest stable learning rate was {max_a} with batch norm and "
       "{max_b} without; per seed, {diff} times higher (95% CI {lo} to {hi}, {n} seeds).",
    0: "With {optimizer}, the largest stable learning rate was {max_a} with batch norm and "
       "{max_b} without; per seed, no reliable difference (ratio {diff}, 95% CI {lo} to "
       "{hi}, {n} seeds).",
    -1: "With {optimizer}, the largest stable learning rate was {max_a} with batch norm and "
        "{max_b} without; per seed, {diff} times as high, so lower (95% CI {lo} to {hi}, "
        "{n} seeds).",
}
MATCHED_TEXT = {
    1: "At the low learning rate {lr} ({optimizer}), batch norm still reached higher test "
       "accuracy: {mean_a} against {mean_b}, {size} higher (95% CI {size_lo} to {size_hi}, "
       "{n} seeds).",
    0: "At the low learning rate {lr} ({optimizer}), batch norm and no normalization reached "
       "similar test accuracy: {mean_a} against {mean_b} (difference {diff}, 95% CI {lo} to "
       "{hi}, {n} seeds).",
    -1: "At the low learning rate {lr} ({optimizer}), no normalization reached higher test "
        "accuracy: {mean_b} against {mean_a} with batch norm, {size} higher (95% CI "
        "{size_lo} to {size_hi}, {n} seeds).",
}
BEST_TEXT = {
    1: "Each at its best learning rate ({optimizer}), batch norm at {lr_a} reached {mean_a} "
       "test accuracy against {mean_b} without it at {lr_b}, {size} higher (95% CI {size_lo} "
       "to {size_hi}).",
    0: "Each at its best learning rate ({optimizer}), batch norm at {lr_a} reached {mean_a} "
       "test accuracy against {mean_b} without it at {lr_b}, no reliable difference "
       "({diff}, 95% CI {lo} to {hi}).",
    -1: "Each at its best learning rate ({optimizer}), batch norm at {lr_a} reached {mean_a} "
        "test accuracy against {mean_b} without it at {lr_b}, {size} lower (95% CI {size_lo} "
        "to {size_hi}).",
}


def lr_text(lr: float | None) -> str:
    return "none" if lr is None else f"{lr:g}"


def both(cells: Cells, optimizer: str, lr: float | None = None) -> bool:
    return all(cells.has(arm=a, optimizer=optimizer, lr=lr) for a in LABELS)


def limit_text(cell) -> str:
    value = cell.extra["max_stable_lr"]
    if value is None:
        return "none of the rates tried"
    return ("at least " if cell.extra["at_grid_top"] else "") + lr_text(value)


def ratio_key(optimizer: str) -> str:
    return f"max_stable_lr_ratio_{optimizer}"


def max_lr_ratio(cells: Cells, optimizer: str, importance: float) -> Finding | None:
    if not both(cells, optimizer):
        return None
    a, b = (cells.get(arm=arm, optimizer=optimizer, lr=None) for arm in LABELS)
    metric = "seed_max_stable_lr"
    return compare(ratio_key(optimizer), "largest stable learning rate",
                   a.side(LABELS["batchnorm"], metric), b.side(LABELS["no_norm"], metric),
                   ratio=True, digits=1, importance=importance, texts=RATIO_TEXT,
                   context={"optimizer": OPTIMIZER_NAMES[optimizer], "max_a": limit_text(a),
                            "max_b": limit_text(b)})


def matched_lr(cells: Cells, optimizer: str, lr: float) -> Finding | None:
    if not both(cells, optimizer, lr):
        return None
    a, b = (cells.get(arm=arm, optimizer=optimizer, lr=lr) for arm in LABELS)
    return compare(f"matched_lr_acc_{optimizer}", "test accuracy",
                   a.side(LABELS["batchnorm"], "test_acc"), b.side(LABELS["no_norm"], "test_acc"),
                   importance=0.7, texts=MATCHED_TEXT,
                   context={"optimizer": OPTIMIZER_NAMES[optimizer], "lr": lr_text(lr)})


def best_lr(cells: Cells, optimizer: str) -> Finding | None:
    if not both(cells, optimizer):
        return None
    a, b = (cells.get(arm=arm, optimizer=optimizer, lr=None) for arm in LABELS)
    return compare(f"best_lr_acc_{optimizer}", "test accuracy at the best learning rate",
                   a.side(LABELS["batchnorm"], "best_test_acc"),
                   b.side(LABELS["no_norm"], "best_test_acc"), importance=0.6, texts=BEST_TEXT,
                   context={"optimizer": OPTIMIZER_NAMES[optimizer],
                            "lr_a": lr_text(a.extra["best_lr"]),
                            "lr_b": lr_text(b.extra["best_lr"])})


def findings(cells: Cells, optimizers: list[str], low_lr: float) -> list[Finding]:
    out: list[Finding | None] = []
    for i, opt in enumerate(optimizers):
        first = i == 0
        out.append(max_lr_ratio(cells, opt, 1.0 if first else 0.65))
        out.append(matched_lr(cells, opt, low_lr) if first else None)
        out.append(best_lr(cells, opt))
    for cell in cells:
        arm, opt, lr = cell.labels["arm"], cell.labels["optimizer"], cell.labels["lr"]
        if lr is None:
            continue
        # Labelled with the rate: divergence at a high rate is this type's measured outcome,
        # reported by the max stable rate, not a caveat on the headline comparisons.
        out.append(divergence(f"diverged_{arm}_{opt}_lr{lr_text(lr)}",
                              cell.side(f"{LABELS[arm]} at learning rate {lr_text(lr)}",
                                        "test_acc"), SCORED_AS_CHANCE, importance=0.1,
                              context={"where": f" with {OPTIMIZER_NAMES[opt]}"}))
    return [f for f in out if f is not None]


def verdict(found: list[Finding], optimizers: list[str]) -> Verdict:
    by = {f.key: f for f in found}
    opt = optimizers[0]
    head = by.get(ratio_key(opt))
    if head is None:
        return Verdict("This run had no batch-norm and no-normalization arms to compare, so it "
                       "cannot answer the question.", ())
    name = OPTIMIZER_NAMES[opt]
    keys = [head.key]
    parts = [{1: f"Yes: with {name}, batch norm trained stably at learning rates well above "
                 "those that broke the same network without it.",
              0: f"Not in this run: with {name}, the largest stable learning rate did not "
                 "differ reliably with and without batch norm.",
              -1: f"No: in this run, with {name}, the network without batch norm tolerated "
                  "higher learning rates."}[head.direction]]
    adam = by.get(ratio_key("adam")) if opt != "adam" else None
    if adam is not None:
        keys.append(adam.key)  # the caveat, measured: Adam's own max-stable-rate ratio
    low = by.get(f"matched_lr_acc_{opt}")
    if low is not None:
        keys.append(low.key)
        parts.append({0: "At a matched low rate the two reached similar accuracy.",
                      1: "Even at a matched low rate, batch norm reached higher accuracy.",
                      -1: "At a matched low rate, the network without it did better."}
                     [low.direction])
    return Verdict(" ".join(parts), tuple(keys))
