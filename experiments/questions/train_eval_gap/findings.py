"""train_eval_gap: the findings and the verdict.

The gap is train-mode minus eval-mode test accuracy, per seed: how much a network loses when
it switches from batch statistics to its running averages. Each condition's gap is compared
with the shuffled-batch baseline's; each fix is measured where it applies (PreciseBN within a
condition, frozen against trainable batch norm when fine-tuning).
"""

from __future__ import annotations

from ...findings import Finding, Side, Verdict, compare, divergence, estimate
from ...runner import SCORED_AS_CHANCE, Cell, Cells
from .spec import LABELS

GAP_TEXT = {
    1: "With {a}, eval mode lost {mean_a} of test accuracy against train mode, {size} more "
       "than with shuffled batches (95% CI {size_lo} to {size_hi}, {n} seeds).",
    0: "With {a}, the gap between train and eval mode ({mean_a}) was not reliably different "
       "from shuffled batches' {mean_b} (difference {diff}, 95% CI {lo} to {hi}).",
    -1: "With {a}, eval mode lost {size} less test accuracy than with shuffled batches "
        "({mean_a} against {mean_b}; 95% CI {size_lo} to {size_hi}).",
}
BASE_TEXT = {
    1: "With shuffled batches of {batch}, eval mode scored {mean} below train mode "
       "(95% CI {lo} to {hi}, {n} seeds).",
    0: "With shuffled batches of {batch}, eval and train mode agreed within noise "
       "(gap {mean}, 95% CI {lo} to {hi}, {n} seeds).",
    -1: "With shuffled batches of {batch}, eval mode scored {mean} against train mode, "
        "better with its running averages (95% CI {lo} to {hi}, {n} seeds).",
}
PRECISE_TEXT = {
    1: "With {what}, recomputing the running averages on the training set raised eval "
       "accuracy from {mean_b} to {mean_a} (gain {size}, 95% CI {size_lo} to {size_hi}).",
    0: "With {what}, recomputing the running averages on the training set did not change "
       "eval accuracy reliably ({mean_b} to {mean_a}; 95% CI {lo} to {hi}).",
    -1: "With {what}, recomputing the running averages on the training set lowered eval "
        "accuracy from {mean_b} to {mean_a} (95% CI {lo} to {hi}).",
}
AS_TRAINED_TEXT = {
    1: "With class-sorted batches, the network scored {mean_a} on its own training batches "
       "but {mean_b} on the test set in eval mode: it learned to lean on the statistics of "
       "one-class batches.",
    0: "With class-sorted batches, accuracy on the training batches as trained ({mean_a}) "
       "and eval-mode test accuracy ({mean_b}) did not differ reliably (95% CI {lo} to {hi}).",
    -1: "With class-sorted batches, the network scored {mean_a} on its own training batches, "
        "below its eval-mode test accuracy of {mean_b} (95% CI {lo} to {hi}).",
}
FROZEN_TEXT = {
    1: "Fine-tuning on shifted data in batches of {batch}, frozen batch norm reached {mean_a} "
       "test accuracy against {mean_b} with it trainable ({size} higher, 95% CI {size_lo} to "
       "{size_hi}).",
    0: "Fine-tuning on shifted data in batches of {batch}, frozen and trainable batch norm "
       "did not differ reliably ({mean_a} against {mean_b}; 95% CI {lo} to {hi}).",
    -1: "Fine-tuning on shifted data in batches of {batch}, frozen batch norm reached "
        "{mean_a} test accuracy against {mean_b} with it trainable ({size} lower, 95% CI "
        "{size_lo} to {size_hi}).",
}


def gap(cell: Cell, label: str) -> Side:
    v = cell.values
    return Side(label, v["train_mode_acc"] - v["eval_acc"], cell.diverged)


def condition_cells(cells: Cells) -> list[tuple[str, Cell, str]]:
    """(finding key stem, cell, words) for every condition compared with the baseline."""
    out = []
    for cond in ("class_sorted", "small_batch"):
        cell = cells.find(condition=cond)
        if cell is not None:
            out.append((cond, cell, LABELS[cond]))
    sweep = sorted(cells.where(condition="momentum"), key=lambda c: c.labels["momentum"])
    for cell in sweep[:1]:  # the smallest momentum: the stalest averages
        m = cell.labels["momentum"]
        out.append((f"momentum_{m:g}", cell, f"a running-average momentum of {m:g}"))
    return out


def findings(cells: Cells, p: dict) -> list[Finding]:
    base = cells.find(condition="iid")
    if base is None:
        return []
    out: list[Finding | None] = [
        estimate("gap_iid", "train-eval gap", gap(base, LABELS["iid"]), BASE_TEXT,
                 importance=0.5, context={"batch": p["batch_size"]})]
    for stem, cell, words in condition_cells(cells):
        out.append(compare(f"gap_{stem}", "train-eval gap", gap(cell, words),
                           gap(base, LABELS["iid"]), texts=GAP_TEXT, importance=0.9))
        out.append(compare(f"precise_{stem}", "eval accuracy",
                           cell.side("PreciseBN", "precise_acc"),
                           cell.side("running averages", "eval_acc"), texts=PRECISE_TEXT,
                           importance=0.7, context={"what": words}))
    sorted_cell = cells.find(condition="class_sorted")
    if sorted_cell is not None:
        out.append(compare("as_trained_class_sorted", "accuracy",
                           sorted_cell.side("as trained", "as_trained_acc"),
                           sorted_cell.side("eval mode", "eval_acc"), texts=AS_TRAINED_TEXT,
                           importance=0.85))
    frozen, trainable = cells.find(condition="finetune_frozen"), cells.find(
        condition="finetune_trainable")
    if frozen is not None and trainable is not None:
        out.append(compare("finetune_frozen_vs_trainable", "test accuracy",
                           frozen.side(LABELS["finetune_frozen"], "eval_acc"),
                           trainable.side(LABELS["finetune_trainable"], "eval_acc"),
                           texts=FROZEN_TEXT, importance=0.8,
                           context={"batch": p["finetune_batch"]}))
    for cell in cells:
        cond = cell.labels["condition"]
        label = LABELS.get(cond, cond)
        if cond == "momentum":
            label = f"momentum {cell.labels['momentum']:g}"
        if cond != "finetune_twin":
            out.append(divergence(f"diverged_{cond}_{cell.labels['momentum']:g}",
                                  cell.side(label, "eval_acc"), SCORED_AS_CHANCE))
    return [f for f in out if f is not None]


def _names(found: list[Finding]) -> str:
    labels = [f.a for f in found]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def verdict(found: list[Finding]) -> Verdict:
    by = {f.key: f for f in found}
    gaps = [f for f in found if f.key.startswith("gap_") and f.key != "gap_iid"]
    opened = sorted((f for f in gaps if f.direction == 1), key=lambda f: -f.diff)
    keys: list[str] = []
    parts: list[str] = []
    if opened:
        keys.append(opened[0].key)
        parts.append("Eval mode is worse when batch norm's running averages do not describe "
                     f"what the network saw in training: here {_names(opened)} opened a gap.")
    elif gaps:
        parts.append("In this run no condition opened a reliable gap between eval and train "
                     "mode.")
    leaned = by.get("as_trained_class_sorted")
    if leaned is not None and leaned.direction == 1:
        keys.append(leaned.key)
        parts.append("Class-sorted batches did worse: the network fitted its one-class "
                     "training batches and failed on shuffled data in both modes.")
    fixed = [by[f"precise_{f.key[4:]}"] for f in opened
             if by.get(f"precise_{f.key[4:]}") and by[f"precise_{f.key[4:]}"].direction == 1]
    if fixed:
        keys.append(fixed[0].key)
        parts.append("Recomputing the averages on the training set after training raised eval "
                     "accuracy for " + _names_of(fixed) + ".")
    elif opened:
        parts.append("Recomputing the averages on the training set did not recover it here.")
    tune = by.get("finetune_frozen_vs_trainable")
    if tune is not None:
        keys.append(tune.key)
        parts.append({1: "When fine-tuning on small batches, freeze batch norm: it did better.",
                      0: "When fine-tuning on small batches, freezing batch norm made no "
                         "reliable difference.",
                      -1: "When fine-tuning here, letting batch norm train did better than "
                          "freezing it."}[tune.direction])
    if not parts:
        return Verdict("This run measured no condition to compare with shuffled batches.", ())
    return Verdict(" ".join(parts), tuple(keys))


def _names_of(fixes: list[Finding]) -> str:
    words = [f.values["what"] for f in fixes]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
