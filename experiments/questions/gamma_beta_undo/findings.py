"""gamma_beta_undo: the findings and the verdict.

The headline is gamma and beta's own part in the undo distance (metrics module): the distance
with the trained gamma and beta against the distance had they stayed at their start, for the
same final batch statistics, paired by seed. It says whether gradient descent used gamma and
beta to move toward cancelling the norm. Beside it: how far units ended from the undo point,
what moved the scale instead, whether the inputs of each layer moved less than without any
normalization, what detaching the statistics from the gradient did, and Santurkar et al.'s
(2018) probes. Every sentence that states a mechanism is the wording of the direction its own
comparison measured, and is absent otherwise.
"""

from __future__ import annotations

from ...findings import Finding, Side, Verdict, compare, divergence, estimate
from ...runner import SCORED_AS_CHANCE, Cells
from .spec import LABELS, UNDO_TOLERANCE, main_optimizer

SCORED_AS = (SCORED_AS_CHANCE + "; their gamma, beta and batch statistics are left out of the "
             "other comparisons")
OPT_NAMES = {"sgd": "SGD", "adam": "Adam"}
UNDONE = "0 means the layer passes its input through unchanged"


def where(opt: str, contrast: bool) -> str:
    """Findings of the main optimizer speak plainly; those of a contrast optimizer say so."""
    return f"With {OPT_NAMES[opt]}, " if contrast else ""


def side(cells: Cells, arm: str, opt: str, metric: str, label: str | None = None,
         diverged: bool = True) -> Side | None:
    cell = cells.find(arm=arm, optimizer=opt, layer="all")
    if cell is None or metric not in cell.values:
        return None
    return Side(label or LABELS[arm], cell.values[metric], cell.diverged if diverged else None)


UNDO_END_TEXT = {
    1: "{where}the undo distance ended at {mean} ({undone}; 95% CI {lo} to {hi}, {n} "
       "seeds), beyond the {threshold} counted as undone.",
    0: "{where}the undo distance ended at {mean} ({undone}; 95% CI {lo} to {hi}, {n} "
       "seeds), not reliably beyond or within the {threshold} counted as undone.",
    -1: "{where}the undo distance ended at {mean} ({undone}; 95% CI {lo} to {hi}, {n} "
        "seeds), within the {threshold} counted as undone: the layers passed their input "
        "through.",
}


def undo_end(cells: Cells, opt: str, importance: float = 0.7, contrast: bool = False
             ) -> Finding | None:
    s = side(cells, "batchnorm", opt, "undo_distance", diverged=False)
    if s is None:
        return None
    return estimate(f"undo_end_{opt}", "distance from undoing the norm", s, UNDO_END_TEXT,
                    threshold=UNDO_TOLERANCE, importance=importance,
                    context={"where": where(opt, contrast), "undone": UNDONE})


UNDO_OWN_TEXT = {
    -1: "{where}units ended {mean_a} from undoing batch norm (0 = undone), {size} "
        "closer than had gamma and beta stayed at their start (95% CI {size_lo} to "
        "{size_hi}).",
    0: "{where}units ended {mean_a} from undoing batch norm (0 = undone), the same within "
       "noise as had gamma and beta stayed at their start (difference {diff}, 95% CI {lo} to "
       "{hi}).",
    1: "{where}units ended {mean_a} from undoing batch norm (0 = undone), {size} further "
       "than had gamma and beta stayed at their start (95% CI {size_lo} to {size_hi}).",
}


def undo_own(cells: Cells, opt: str, importance: float = 1.0, contrast: bool = False
             ) -> Finding | None:
    """The headline: did training gamma and beta move units toward the undo point?"""
    trained = side(cells, "batchnorm", opt, "undo_distance", "trained gamma and beta", False)
    frozen = side(cells, "batchnorm", opt, "undo_distance_frozen",
                  "gamma and beta left at their start", False)
    if trained is None or frozen is None:
        return None
    return compare(f"undo_own_{opt}", "distance from undoing the norm", trained, frozen,
                   texts=UNDO_OWN_TEXT, importance=importance,
                   context={"where": where(opt, contrast)})


SCALE_TEXT = {
    1: "The batch's standard deviation sigma_B changed {mean_a}-fold over training but gamma "
       "only {mean_b}-fold (geometric means; ratio {diff}, 95% CI {lo} to {hi}): gamma did "
       "not keep up.",
    0: "The batch's standard deviation sigma_B ({mean_a}-fold) and gamma ({mean_b}-fold) did "
       "not change by reliably different factors over training (geometric means; ratio "
       "{diff}, 95% CI {lo} to {hi}).",
    -1: "Gamma changed {mean_b}-fold over training, more than the batch's standard deviation "
        "sigma_B ({mean_a}-fold; geometric means, ratio {diff}, 95% CI {lo} to {hi}).",
}


def scale_moved(cells: Cells, opt: str) -> Finding | None:
    sigma = side(cells, "batchnorm", opt, "sigma_B_fold", "sigma_B", False)
    gamma = side(cells, "batchnorm", opt, "gamma_fold", "gamma", False)
    if sigma is None or gamma is None:
        return None
    return compare(f"scale_moved_{opt}", "change of scale", sigma, gamma, ratio=True,
                   texts=SCALE_TEXT, importance=0.6)


MOVES_TEXT = {
    -1: "Each nonlinearity's input moved {diff} times as fast with batch norm as without "
        "(geometric means, 95% CI {lo} to {hi}): gamma and beta set its mean and spread, not "
        "every layer below.",
    0: "Each nonlinearity's input did not move reliably more slowly with batch norm than "
       "without (ratio of geometric means {diff}, 95% CI {lo} to {hi}).",
    1: "Each nonlinearity's input moved {diff} times as fast with batch norm as without "
       "(geometric means, 95% CI {lo} to {hi}), so batch norm did not steady it here.",
}


def input_moves(cells: Cells, opt: str) -> Finding | None:
    """The mechanism (two parameters per unit set a layer's input distribution) is the -1
    wording: stated only when batch norm's inputs measurably moved less."""
    bn, none = (side(cells, a, opt, "input_shift") for a in ("batchnorm", "no_norm"))
    if bn is None or none is None:
        return None
    return compare(f"input_moves_{opt}", "movement of each nonlinearity's input", bn,
                   none, ratio=True, texts=MOVES_TEXT, importance=0.9)


DRIFT_TEXT = {
    1: "{where}the biases feeding each norm grew {mean_a}-fold with the statistics detached "
       "from the gradient, against {mean_b}-fold with batch norm (geometric means, 95% CI of "
       "the ratio {lo} to {hi}): the optimizer kept pushing biases the next normalization "
       "cancels.",
    0: "{where}the biases feeding each norm did not grow reliably more with the statistics "
       "detached than with batch norm ({mean_a}-fold against {mean_b}-fold; ratio {diff}, 95% "
       "CI {lo} to {hi}).",
    -1: "{where}the biases feeding each norm grew less with the statistics detached than with "
        "batch norm ({mean_a}-fold against {mean_b}-fold; ratio {diff}, 95% CI {lo} to {hi}), "
        "so no drift showed.",
}


def bias_drift(cells: Cells, opt: str, importance: float = 0.5, contrast: bool = False
               ) -> Finding | None:
    det, bn = (side(cells, a, opt, "pre_norm_bias_growth")
               for a in ("batchnorm_detached", "batchnorm"))
    if det is None or bn is None:
        return None
    return compare(f"bias_drift_{opt}", "growth of the pre-norm biases", det, bn, ratio=True,
                   texts=DRIFT_TEXT, importance=importance,
                   context={"where": where(opt, contrast)})


def accuracy(cells: Cells, a: str, b: str, opt: str, importance: float) -> Finding | None:
    sa, sb = side(cells, a, opt, "test_acc"), side(cells, b, opt, "test_acc")
    if sa is None or sb is None:
        return None
    return compare(f"{a}_vs_{b}_acc_{opt}", "test accuracy", sa, sb, importance=importance)


# Santurkar et al. (2018): internal covariate shift no lower with batch norm, loss and gradient
# better behaved along the gradient. Each wording says whether this run agrees.
SANTURKAR = {
    "ics_l2": ("internal covariate shift (how much a layer's gradient changes once the layers "
               "below step)", {1: "as Santurkar et al. (2018) found",
                               0: "in line with Santurkar et al. (2018), who found it no lower",
                               -1: "unlike Santurkar et al. (2018)"}),
    "beta_smoothness": ("effective beta-smoothness of the loss along the gradient",
                        {1: "so rougher, unlike Santurkar et al. (2018)",
                         0: "so this run does not show the smoother loss of Santurkar et al. "
                            "(2018)",
                         -1: "so smoother, as Santurkar et al. (2018) report"}),
}


def santurkar(cells: Cells, opt: str, metric: str) -> Finding | None:
    bn, none = (side(cells, a, opt, metric) for a in ("batchnorm", "no_norm"))
    if bn is None or none is None:
        return None
    name, verdicts = SANTURKAR[metric]
    texts = {d: f"{{metric}} was {{diff}} times as large with {{a}} as with {{b}} (geometric "
                f"means, 95% CI {{lo}} to {{hi}}), {verdicts[d]}."
             if d else f"{{metric}} did not differ reliably between {{a}} and {{b}} (ratio "
                       f"{{diff}}, 95% CI {{lo}} to {{hi}}), {verdicts[d]}."
             for d in (-1, 0, 1)}
    return compare(f"{metric}_{opt}", name, bn, none, ratio=True, texts=texts, importance=0.2)


def findings(cells: Cells, arms: list[str], optimizers: list[str]) -> list[Finding]:
    main = main_optimizer(optimizers)
    out = [undo_own(cells, main), input_moves(cells, main), undo_end(cells, main),
           scale_moved(cells, main), bias_drift(cells, main),
           accuracy(cells, "batchnorm_detached", "batchnorm", main, 0.45),
           accuracy(cells, "batchnorm", "no_norm", main, 0.4),
           santurkar(cells, main, "ics_l2"), santurkar(cells, main, "beta_smoothness")]
    for opt in optimizers:
        if opt != main:
            out += [undo_own(cells, opt, 0.15, contrast=True),
                    bias_drift(cells, opt, 0.15, contrast=True)]
    for opt in optimizers:
        for arm in arms:
            cell = cells.get(arm=arm, optimizer=opt, layer="all")
            label = LABELS[arm] + ("" if opt == main else f" with {OPT_NAMES[opt]}")
            out.append(divergence(f"diverged_{arm}_{opt}", cell.side(label, "test_acc"),
                                  SCORED_AS))
    return [f for f in out if f is not None]


SCALE_SHIFT = "batch norm's learned scale and shift (gamma and beta)"
VERDICT_UNDO = {
    1: f"No — gradient descent did not make {SCALE_SHIFT} cancel it",
    0: f"This run cannot tell whether gradient descent made {SCALE_SHIFT} cancel it",
    -1: f"In this run, yes — gradient descent brought {SCALE_SHIFT} close to cancelling it",
}
VERDICT_MOVES = {
    -1: "each nonlinearity's input moved more slowly than without normalization",
    0: "each nonlinearity's input did not move reliably more slowly than without "
       "normalization",
    1: "each nonlinearity's input moved faster than without normalization",
}


def verdict(found: list[Finding], optimizers: list[str]) -> Verdict:
    """Verdict first, in words only (the numbers are in the findings it rests on): did the
    units end at the undo point, and did the inputs of each layer move as much as without
    batch norm? It rests on the headline, the input movement and the end distance, and names
    the divergences of the arms it speaks of."""
    main = main_optimizer(optimizers)
    by = {f.key: f for f in found}
    end = by.get(f"undo_end_{main}")
    if end is None:
        return Verdict("This run had no batch-norm arm, so it cannot measure whether gamma and "
                       "beta undo batch norm.", ())
    text = VERDICT_UNDO[end.direction]
    moves = by.get(f"input_moves_{main}")
    if moves is not None:
        joint = "; instead, " if end.direction == 1 and moves.direction == -1 else "; "
        text += joint + VERDICT_MOVES[moves.direction]
    keys = [k for k in (f"undo_own_{main}", f"input_moves_{main}", f"undo_end_{main}")
            if k in by]
    keys += [k for k in (f"diverged_batchnorm_{main}", f"diverged_no_norm_{main}") if k in by]
    return Verdict(text + ".", tuple(keys))
