"""small_batch_statistics: the findings and the verdict.

The headline compares the asker's idea (running averages in the training forward pass) with
batch norm at the asker's batch size and at the smallest one, always beside the control (no
normalization at all) and the established remedies, so that "your idea beat batch norm" is
never said where simply dropping the norm did as well.
"""

from __future__ import annotations

from ...findings import Finding, Verdict, compare, divergence
from ...runner import SCORED_AS_CHANCE, Cells
from .spec import FIXES, LABELS

ACC = "test accuracy"
AT = "At batch {batch}, "


def side(cells: Cells, arm: str, batch: int, metric: str = "test_acc"):
    return cells.get(arm=arm, batch_size=batch).side(LABELS[arm], metric)


def versus(cells: Cells, a: str, b: str, batch: int, importance: float) -> Finding | None:
    if not (cells.has(arm=a, batch_size=batch) and cells.has(arm=b, batch_size=batch)):
        return None
    return compare(f"{a}_vs_{b}_b{batch}", ACC, side(cells, a, batch), side(cells, b, batch),
                   importance=importance, context={"batch": batch}, prefix=AT)


DRIFT_TEXT = {
    1: "At batch {batch}, the biases feeding each norm grew {mean_a} times over training "
       "with running averages, against {mean_b} times with batch norm (ratio {diff}, 95% CI "
       "{lo} to {hi}): the optimizer kept pushing them in directions the averages cancel.",
    0: "At batch {batch}, the biases feeding each norm did not drift measurably more with "
       "running averages than with batch norm (growth {mean_a} against {mean_b} times; "
       "ratio {diff}, 95% CI {lo} to {hi}).",
    -1: "At batch {batch}, the biases feeding each norm grew less with running averages "
        "than with batch norm ({mean_a} against {mean_b} times; ratio {diff}, 95% CI {lo} "
        "to {hi}), so no drift showed here.",
}


def drift(cells: Cells, batch: int) -> Finding | None:
    """The mechanism sentence (parameters drift) is the +1 text: chosen only when measured."""
    if not (cells.has(arm="ewa_forward", batch_size=batch)
            and cells.has(arm="batchnorm", batch_size=batch)):
        return None
    metric = "pre_norm_bias_growth"
    return compare(f"bias_drift_b{batch}", "growth of the pre-norm biases",
                   side(cells, "ewa_forward", batch, metric),
                   side(cells, "batchnorm", batch, metric), ratio=True, importance=0.45,
                   texts=DRIFT_TEXT, context={"batch": batch})


GAP_TEXT = {
    1: "At batch {batch}, batch norm scored {size} higher when test batches used their own "
       "statistics than with its running averages ({mean_a} against {mean_b}; 95% CI "
       "{size_lo} to {size_hi}): its averages were stale.",
    0: "At batch {batch}, batch norm did not score reliably differently with test batches' "
       "own statistics than with its running averages ({mean_a} against {mean_b}; "
       "difference {diff}, 95% CI {lo} to {hi}).",
    -1: "At batch {batch}, batch norm scored {size} lower with test batches' own statistics "
        "than with its running averages ({mean_a} against {mean_b}; 95% CI {size_lo} to "
        "{size_hi}).",
}


def train_eval_gap(cells: Cells, batch: int) -> Finding | None:
    if not cells.has(arm="batchnorm", batch_size=batch):
        return None
    cell = cells.get(arm="batchnorm", batch_size=batch)
    return compare(f"bn_train_vs_eval_b{batch}", ACC,
                   cell.side("train mode", "train_mode_test_acc"),
                   cell.side("eval mode", "test_acc"), texts=GAP_TEXT, importance=0.2,
                   context={"batch": batch})


def findings(cells: Cells, small: int, normal: int, arms: list[str]) -> list[Finding]:
    sizes = [normal] if small == normal else [normal, small]
    out: list[Finding | None] = []
    for b in sizes:
        first = b == normal
        out.append(versus(cells, "ewa_forward", "batchnorm", b, 1.0 if first else 0.9))
        out.append(versus(cells, "no_norm", "batchnorm", b, 0.4 if first else 0.8))
        out.append(versus(cells, "ewa_forward", "no_norm", b, 0.3 if first else 0.75))
    for fix in FIXES:
        out.append(versus(cells, fix, "batchnorm", small, 0.6))
    out.append(drift(cells, small))
    out.append(versus(cells, "precise_bn", "batchnorm", small, 0.25))
    out.append(train_eval_gap(cells, small))
    for cell in cells:
        arm, b = cell.labels["arm"], cell.labels["batch_size"]
        if arm in arms:
            out.append(divergence(f"diverged_{arm}_b{b}", cell.side(LABELS[arm], "test_acc"),
                                  SCORED_AS_CHANCE, context={"where": f" at batch {b}"}))
    return [f for f in out if f is not None]


def verdict(found: list[Finding], small: int, normal: int) -> Verdict:
    by = {f.key: f for f in found}

    def d(key: str) -> int | None:
        return by[key].direction if key in by else None

    keys: list[str] = []
    parts: list[str] = []
    k_normal = f"ewa_forward_vs_batchnorm_b{normal}"
    if k_normal not in by:
        return Verdict("This run had no running-average and batch-norm arms to compare, so it "
                       "cannot answer the question.", ())
    keys.append(k_normal)
    parts.append({-1: f"No: at batch {normal}, normalizing with the running averages in "
                      "training did worse than batch norm.",
                  0: f"Not worth it: at batch {normal}, normalizing with the running averages "
                     "in training was no better than batch norm.",
                  1: f"At batch {normal}, normalizing with the running averages in training "
                     "did better than batch norm in this run."}[d(k_normal)])
    k_small = f"ewa_forward_vs_batchnorm_b{small}"
    if small != normal and k_small in by:
        keys.append(k_small)
        control = d(f"no_norm_vs_batchnorm_b{small}")
        beyond = d(f"ewa_forward_vs_no_norm_b{small}")
        if d(k_small) == 1 and control == 1 and (beyond or 0) <= 0:
            keys.append(f"no_norm_vs_batchnorm_b{small}")
            parts.append(f"At batch {small} it beat batch norm, but so did no normalization at "
                         "all: the gain is batch norm's noisy statistics going away.")
        else:
            parts.append({1: f"At batch {small} it beat batch norm.",
                          0: f"At batch {small} it was not reliably different from batch norm.",
                          -1: f"At batch {small} it did worse as well."}[d(k_small)])
    fixes = [by[f"{fix}_vs_batchnorm_b{small}"] for fix in FIXES
             if f"{fix}_vs_batchnorm_b{small}" in by]
    better = sorted((f for f in fixes if f.direction == 1), key=lambda f: -f.mean_a)
    if better:
        keys.append(better[0].key)
        parts.append(f"For small batches, use {better[0].a} instead.")
    elif fixes:
        parts.append(f"Neither {' nor '.join(f.a for f in fixes)} beat batch norm reliably at "
                     f"batch {small} here.")
    return Verdict(" ".join(parts), tuple(keys))
