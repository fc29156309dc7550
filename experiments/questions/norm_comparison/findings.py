"""norm_comparison: the findings and the verdict.

Every norm is compared with batch norm, paired by seed, at the normal batch size and at the
smallest one, for each network; on the CNN, instance norm is also compared with group norm
(what normalizing each channel on its own costs on a 1-D signal). The recommendation is
computed from those comparisons: a norm is recommended over batch norm only where it beat it
reliably.
"""

from __future__ import annotations

from ...findings import Finding, Verdict, compare, divergence
from ...runner import SCORED_AS_CHANCE, Cells
from .spec import LABELS, MODEL_NAMES

AT = "At batch {batch} on the {model}, "


def versus(cells: Cells, a: str, b: str, model: str, batch: int,
           importance: float) -> Finding | None:
    ca, cb = (cells.find(arm=x, model=model, batch_size=batch) for x in (a, b))
    if ca is None or cb is None:
        return None
    return compare(f"{a}_vs_{b}_{model}_b{batch}", "test accuracy",
                   ca.side(LABELS[a], "test_acc"), cb.side(LABELS[b], "test_acc"),
                   importance=importance, prefix=AT,
                   context={"batch": batch, "model": MODEL_NAMES[model]})


def findings(cells: Cells, models: list[str], small: int, normal: int) -> list[Finding]:
    out: list[Finding | None] = []
    for k, model in enumerate(models):
        weight = 1.0 if k == 0 else 0.6
        for batch in dict.fromkeys((normal, small)):
            for arm in LABELS:
                if arm != "batchnorm":
                    out.append(versus(cells, arm, "batchnorm", model, batch,
                                      weight * (0.8 if batch == small else 0.7)))
        out.append(versus(cells, "instancenorm", "groupnorm", model, normal, weight * 0.5))
    for cell in cells:
        arm, model, b = (cell.labels[k] for k in ("arm", "model", "batch_size"))
        out.append(divergence(f"diverged_{arm}_{model}_b{b}", cell.side(LABELS[arm], "test_acc"),
                              SCORED_AS_CHANCE,
                              context={"where": f" ({MODEL_NAMES[model]}, batch {b})"}))
    return [f for f in out if f is not None]


def _groups(by: dict[str, Finding], model: str, batch: int) -> dict[int, list[Finding]]:
    out: dict[int, list[Finding]] = {1: [], 0: [], -1: []}
    for arm in LABELS:
        f = by.get(f"{arm}_vs_batchnorm_{model}_b{batch}")
        if f is not None:
            out[f.direction].append(f)
    return out


def _standing(groups: dict[int, list[Finding]]) -> str:
    def names(fs: list[Finding]) -> str:
        labels = [f.a for f in fs]
        return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]

    if not groups[1] and not groups[-1]:
        return "none of the other norms differed reliably from batch norm"
    parts = []
    if groups[1]:
        parts.append(f"{names(groups[1])} beat batch norm")
    if groups[-1]:
        parts.append(f"{names(groups[-1])} did worse than batch norm")
    if groups[0]:
        parts.append("the others did not differ reliably from it")
    return "; ".join(parts)


def verdict(found: list[Finding], model: str, small: int, normal: int) -> Verdict:
    by = {f.key: f for f in found}
    name = MODEL_NAMES[model]
    keys: list[str] = []
    parts: list[str] = []
    for batch in dict.fromkeys((small, normal)):
        groups = _groups(by, model, batch)
        if any(groups.values()):
            parts.append(f"At batch {batch} on the {name}, {_standing(groups)}.")
            ranked = sorted(groups[1] or groups[0] or groups[-1], key=lambda f: -f.mean_a)
            keys.append(ranked[0].key)
    if not parts:
        return Verdict("This run had no batch-norm arm to compare the other norms with.", ())
    # A recommendation names a norm: the no-norm control can beat batch norm, never replace it.
    tiny = sorted((f for f in _groups(by, model, small)[1] if f.a != LABELS["no_norm"]),
                  key=lambda f: -f.mean_a)
    beaten = _groups(by, model, normal)[1] or tiny
    if tiny and small != normal:
        parts.append(f"So with batches as small as {small}, use {tiny[0].a} instead of "
                     "batch norm.")
    elif not beaten:
        parts.append("So batch norm is a sound default here.")
    return Verdict(" ".join(parts), tuple(keys))
