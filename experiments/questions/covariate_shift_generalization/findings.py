"""covariate_shift_generalization: the findings (the verdict is in `verdict`).

Every noise level, ghost size and input-shift level is compared with its control on its own;
none is picked as "the best" from the run that reports it. The shifting noise also carries a
per-example part, so a per-example-noise-only arm separates the two where it ran. A shift of
the input shared by a whole batch is cancelled by batch norm's batch statistics by
construction: the verdict says so as a fact of the method, never as a measured finding.
"""

from __future__ import annotations

from ...findings import Finding, Side, compare, divergence
from ...runner import SCORED_AS_CHANCE, Cells
from .spec import Plan

ACC = "test accuracy"
UP = "(rise {size_lo} to {size_hi}, 95% confidence, {n} seeds)."
DOWN = "(drop {size_lo} to {size_hi}, 95% confidence, {n} seeds)."
SAME = "(difference {lo} to {hi}, 95% confidence, {n} seeds)."
RAISED = "raised {what} from {mean_b} to {mean_a} " + UP
LOWERED = "lowered {what} from {mean_b} to {mean_a} " + DOWN
UNCHANGED = "did not change {what} reliably: {mean_a} against {mean_b} " + SAME


def worded(lead: str) -> dict[int, str]:
    """Texts per direction for "<lead> raised / lowered / did not change <what>"."""
    return {1: f"{lead} {RAISED}", -1: f"{lead} {LOWERED}", 0: f"{lead} {UNCHANGED}"}


def _side(cells: Cells, arm: str, metric: str, **labels) -> Side | None:
    cell = cells.find(arm=arm, **labels)
    return None if cell is None else cell.side(_label(arm, labels), metric)


def _label(arm: str, labels: dict) -> str:
    return Plan(arm, labels.get("noise", 0.0), labels.get("ghost_size")).label


def _versus(key: str, cells: Cells, a: tuple, b: tuple, metric: str, what: str,
            texts: dict[int, str], importance: float, context: dict) -> Finding | None:
    """Compare cells a and b, each (arm, labels), on `metric`; None when either is missing."""
    sa, sb = _side(cells, a[0], metric, **a[1]), _side(cells, b[0], metric, **b[1])
    if sa is None or sb is None:
        return None
    return compare(key, what, sa, sb, importance=importance, texts=texts,
                   context={"what": what, **context})


NOISE_LEAD = ("Randomly rescaling (up to {scale_max} times) and shifting (up to {level}) batch "
              "norm's outputs each step")


def noise_vs_bn(cells: Cells, level: float, importance: float = 1.0) -> Finding | None:
    """The asker's idea in hidden features: Santurkar et al.'s shifting noise against BN."""
    return _versus(f"noise_{level:g}_vs_bn", cells, ("noisy_batchnorm", {"noise": level}),
                   ("batchnorm", {}), "test_acc", ACC, worded(NOISE_LEAD),
                   importance, _levels(level))


def shift_beyond_sample_noise(cells: Cells, level: float) -> Finding | None:
    """The shifting noise against per-example noise alone: what the shift itself adds."""
    lead = "With the same per-example noise in both, adding shifts of level {level}"
    texts = worded(lead)
    texts[1] = "The shift itself helped: " + texts[1][0].lower() + texts[1][1:]
    texts[-1] = "The shift itself hurt: " + texts[-1][0].lower() + texts[-1][1:]
    return _versus(f"shift_{level:g}_vs_sample_noise", cells,
                   ("noisy_batchnorm", {"noise": level}), ("sample_noise_batchnorm", {}),
                   "test_acc", ACC, texts, 0.6, _levels(level))


def sample_noise_vs_bn(cells: Cells, spread: float) -> Finding | None:
    lead = "Per-example noise alone (spread {spread}) after batch norm"
    return _versus("sample_noise_vs_bn", cells, ("sample_noise_batchnorm", {}),
                   ("batchnorm", {}), "test_acc", ACC, worded(lead), 0.3,
                   {"spread": f"{spread:g}"})


GAP_TEXT = {
    -1: "Noise of level {level} narrowed the gap between training and test accuracy from "
        "{mean_b} to {mean_a} (narrower by {size_lo} to {size_hi}, 95% confidence, {n} "
        "seeds): it acted as a regularizer.",
    0: "Noise of level {level} did not change the gap between training and test accuracy "
       "reliably: {mean_a} against {mean_b} " + SAME,
    1: "Noise of level {level} widened the gap between training and test accuracy from "
       "{mean_b} to {mean_a} (wider by {size_lo} to {size_hi}, 95% confidence, {n} seeds).",
}


def noise_gap(cells: Cells, level: float) -> Finding | None:
    """The regularizer sentence is the -1 text: chosen only when the gap measurably shrank."""
    return _versus(f"noise_{level:g}_gap", cells, ("noisy_batchnorm", {"noise": level}),
                   ("batchnorm", {}), "gap", "train-test gap", GAP_TEXT, 0.5, _levels(level))


SANTURKAR_TEXT = {
    -1: "As in Santurkar et al., noise of level {level} cost batch norm less accuracy on its "
        "training batches than it cost the network without a norm: {mean_a} against {mean_b} "
        "(less by {size_lo} to {size_hi}, 95% confidence, {n} seeds).",
    0: "Noise of level {level} cost batch norm and the network without a norm about the same "
       "accuracy on their training batches: {mean_a} against {mean_b} " + SAME,
    1: "Unlike in Santurkar et al., noise of level {level} cost batch norm more accuracy on its "
       "training batches than it cost the network without a norm: {mean_a} against {mean_b} "
       "(more by {size_lo} to {size_hi}, 95% confidence, {n} seeds).",
}


def santurkar(cells: Cells, level: float) -> Finding | None:
    """Santurkar et al.'s (2018, Sec. 2.1) test in this run: what the noise costs in accuracy
    as trained with batch norm, against what it costs without a norm, paired by seed."""
    key = "train_mode_train_acc"
    four = [cells.find(arm=a, noise=n) for a, n in (("batchnorm", 0.0), ("noisy_batchnorm", level),
                                                    ("no_norm", 0.0), ("noisy_no_norm", level))]
    if any(c is None for c in four):
        return None
    bn, noisy, plain, noisy_plain = four
    cost = [Side(label, clean.values[key] - hit.values[key], clean.diverged | hit.diverged)
            for label, clean, hit in (("batch norm with or without the noise", bn, noisy),
                                      ("no normalization with or without the noise", plain,
                                       noisy_plain))]
    return compare(f"santurkar_{level:g}", "accuracy lost to the noise", *cost,
                   texts=SANTURKAR_TEXT, importance=0.55, context=_levels(level))


def ghost_vs_bn(cells: Cells, ghost: int, batch: int) -> Finding | None:
    lead = "Normalizing over groups of {ghost} instead of whole batches of {batch}"
    return _versus(f"ghost_{ghost}_vs_bn", cells, ("ghost_batchnorm", {"ghost_size": ghost}),
                   ("batchnorm", {}), "test_acc", ACC, worded(lead), 0.45,
                   {"ghost": ghost, "batch": batch})


AUGMENT_LEAD = "Giving each training example its own random scale and shift{level_note}"


def augment_shifted(cells: Cells, level: float, importance: float = 0.95,
                    several: bool = False) -> Finding | None:
    """The black-and-coloured-cats idea: variety per example, tested on varied test data.
    The level is named only when several were run (the answer is short)."""
    return _versus(f"augment_{level:g}_shifted", cells, ("input_augment", {"noise": level}),
                   ("batchnorm", {}), "shifted_test_acc", "accuracy on varied test data",
                   worded(AUGMENT_LEAD), importance,
                   {"level_note": f" (level {level:g})" if several else ""})


def augment_clean(cells: Cells, level: float) -> Finding | None:
    lead = "On the unchanged test set, augmentation of level {level}"
    return _versus(f"augment_{level:g}_clean", cells, ("input_augment", {"noise": level}),
                   ("batchnorm", {}), "test_acc", ACC, worded(lead), 0.4,
                   {"level": f"{level:g}"})


def batch_shift_no_norm(cells: Cells, level: float) -> Finding | None:
    """Without a norm nothing cancels a per-batch input shift: the literal shifting input."""
    lead = ("Without a norm, one random scale and shift of level {level} per batch (the input "
            "distribution moving from step to step)")
    return _versus(f"batch_shift_{level:g}_no_norm", cells,
                   ("input_shift_no_norm", {"noise": level}), ("no_norm", {}),
                   "shifted_test_acc", "accuracy on varied test data", worded(lead), 0.5,
                   {"level": f"{level:g}"})


def bn_vs_no_norm(cells: Cells) -> Finding | None:
    return _versus("bn_vs_no_norm", cells, ("batchnorm", {}), ("no_norm", {}), "test_acc", ACC,
                   worded("Adding batch norm to the network without a norm"), 0.2, {})


def _levels(level: float) -> dict:
    return {"level": f"{level:g}", "scale_max": f"{1 + level:g}"}


def findings(cells: Cells, p: dict) -> list[Finding]:
    levels = sorted(set(p["noise_levels"]))
    shifts = sorted(set(p["input_shift_levels"]))
    out: list[Finding | None] = []
    for i, level in enumerate(levels):
        # The weakest level is the pre-set headline; the others are reported beside it.
        out.append(noise_vs_bn(cells, level, 1.0 if i == 0 else 0.7))
        out += [shift_beyond_sample_noise(cells, level), noise_gap(cells, level),
                santurkar(cells, level)]
    out.append(sample_noise_vs_bn(cells, p["sample_noise"]))
    for i, level in enumerate(shifts):
        out += [augment_shifted(cells, level, 0.95 if i == 0 else 0.5, len(shifts) > 1),
                augment_clean(cells, level), batch_shift_no_norm(cells, level)]
    out += [ghost_vs_bn(cells, g, p["batch_size"]) for g in sorted(set(p["ghost_sizes"]))]
    out.append(bn_vs_no_norm(cells))
    for cell in cells:
        out.append(divergence(f"diverged_{_key(cell.labels)}",
                              cell.side(_label(cell.labels["arm"], cell.labels), "test_acc"),
                              SCORED_AS_CHANCE))
    return [f for f in out if f is not None]


def _key(labels: dict) -> str:
    arm = labels["arm"]
    if arm == "ghost_batchnorm":
        return f"{arm}_{labels['ghost_size']}"
    return f"{arm}_{labels['noise']:g}" if labels["noise"] else arm
