"""covariate_shift_generalization: the verdict, and the measured conditions of the "Why".

The verdict answers the question in words and rests on two findings fixed in advance: the
shifting noise at its weakest level against batch norm (the asker's idea inside the network)
and per-example input shifts at the weakest level on varied test data (the "black and
coloured cats"). Every other level is reported as its own finding. The numbers are in the
findings; the verdict carries none.
"""

from __future__ import annotations

from ...findings import Finding, Verdict

CANCELS = "in training, batch norm cancels any input shift a whole batch shares"
AUGMENT = "data augmentation"
COST = ", at some cost on unchanged test data"


def _with(found: list[Finding], prefix: str, suffix: str) -> list[Finding]:
    return [f for f in found if f.key.startswith(prefix) and f.key.endswith(suffix)]


def noise_clause(found: list[Finding]) -> str:
    """What the shifting noise did over every level tried, in words; "" if it never helped.
    "As a regularizer" only where the train-test gap measurably shrank at a level that helped;
    "its shifts added nothing measurable" where per-example noise alone did as well."""
    noise = _with(found, "noise_", "_vs_bn")
    helped = [f for f in noise if f.direction == 1]
    if not helped:
        return ""
    other = {f.key: f.direction for f in found}
    some = "" if len(helped) == len(noise) else " at some strengths"
    if any(f.direction == -1 for f in noise):
        some += " and hurt at others"
    levels = [f.key[len("noise_"):-len("_vs_bn")] for f in helped]
    shift = [other.get(f"shift_{level}_vs_sample_noise") for level in levels]
    if all(d is not None and d <= 0 for d in shift):
        text = f"noise on its outputs helped{some}, but its shifts added nothing measurable"
    else:
        text = f"random output shifts helped{some}"
    regular = any(other.get(f"noise_{level}_gap") == -1 for level in levels)
    return text + (", as a regularizer" if regular else "")


def verdict(found: list[Finding]) -> Verdict:
    noise = _with(found, "noise_", "_vs_bn")
    augment = _with(found, "augment_", "_shifted")
    if not noise and not augment:
        return Verdict("This run had neither the shifting-noise arm nor the augmented arm next "
                       "to batch norm, so it cannot answer the question.", ())
    noisy = noise_clause(found)
    aug = augment[0].direction if augment else None
    clean = _with(found, "augment_", "_clean")[:1]
    cost = COST if aug == 1 and clean and clean[0].direction == -1 else ""
    if aug == 1 and noisy:
        text = (f"Partly, not the way you mean: {CANCELS}. {noisy[0].upper()}{noisy[1:]}; so "
                f"did {AUGMENT}{cost}.")
    elif aug == 1:
        text = f"Not the way you mean: {CANCELS}; what helps is {AUGMENT}{cost}."
    elif noisy:
        text = f"Partly: {CANCELS}, but {noisy}."
    else:
        what = ("neither random output shifts nor per-example shifts helped"
                if noise and augment else "random output shifts did not help"
                if noise else f"{AUGMENT} did not help")
        text = f"No, not in this run: {CANCELS}, and {what} measurably."
    keys = [f.key for f in (noise[:1] + augment[:1] + (clean if cost else []))]
    return Verdict(text, tuple(keys))


SANTURKAR_HERE = {
    -1: "This run agrees: the noise cost batch norm less than it cost the network without a "
        "norm.",
    0: "This run neither confirms nor contradicts it: the noise cost batch norm and the "
       "network without a norm about the same.",
    1: "This run does not bear that out: here the noise cost batch norm more than it cost the "
       "network without a norm.",
}


def why_values(found: list[Finding]) -> dict[str, str]:
    """The sentences of why.md that depend on this run, each chosen by its finding's
    direction; empty where the finding is missing or does not support one."""
    out = {"santurkar_here": "", "regularizer_here": "", "ghost_here": "", "augment_here": ""}
    sant = {f.direction for f in _with(found, "santurkar_", "")}
    if len(sant) == 1:
        out["santurkar_here"] = " " + SANTURKAR_HERE[sant.pop()]
    elif sant:
        out["santurkar_here"] = (" In this run the outcome of their comparison depended on the "
                                 "noise level (see the findings).")
    if any(f.direction == -1 for f in _with(found, "noise_", "_gap")):
        out["regularizer_here"] = (" In this run the noise narrowed the gap between training "
                                   "and test accuracy, as a regularizer does.")
    ghosts = _with(found, "ghost_", "_vs_bn")
    if any(f.direction == 1 for f in ghosts):
        out["ghost_here"] = (" In this run, smaller groups raised test accuracy at some group "
                             "size.")
    augment = _with(found, "augment_", "_shifted")
    if augment:
        out["augment_here"] = " " + AUGMENT_HERE[augment[0].direction]
    return out


AUGMENT_HERE = {
    1: "In this run it did: per-example shifts raised accuracy on test data varied that way.",
    0: "In this run, per-example shifts did not measurably raise accuracy on test data varied "
       "that way.",
    -1: "In this run, per-example shifts lowered accuracy on test data varied that way.",
}
