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


def _names(fs: list[Finding], last: str = "and") -> str:
    labels = [f.a for f in fs]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + f" {last} " + labels[-1]


def _standing(groups: dict[int, list[Finding]]) -> str:
    if not groups[1] and not groups[-1]:
        return "none of the other norms differed reliably from batch norm"
    parts = []
    if groups[1]:
        parts.append(f"{_names(groups[1])} beat batch norm")
    if groups[-1]:
        parts.append(f"{_names(groups[-1])} did worse than batch norm")
    if groups[0]:
        parts.append("the others did not differ reliably from it")
    return "; ".join(parts)


def _lead(groups: dict[int, list[Finding]]) -> Finding:
    """The comparison a sentence rests on: the best of those that beat batch norm, else of
    the ties, else of those that did worse."""
    return sorted(groups[1] or groups[0] or groups[-1], key=lambda f: -f.mean_a)[0]


def _winners(by: dict[str, Finding], model: str, batch: int) -> list[Finding]:
    """The norms that beat batch norm, best first. A recommendation names a norm: the no-norm
    control can beat batch norm, never replace it."""
    return sorted((f for f in _groups(by, model, batch)[1] if f.a != LABELS["no_norm"]),
                  key=lambda f: -f.mean_a)


def verdict(found: list[Finding], models: list[str], small: int, normal: int) -> Verdict:
    """The first network at the smallest batch size, with a clause on whether any norm beat
    batch norm there on each other network; the first network at the normal batch size; the
    advice. Its first finding (the headline) is the first network's comparison at the
    smallest batch size."""
    by = {f.key: f for f in found}
    head = MODEL_NAMES[models[0]]
    keys: list[str] = []
    other_keys: list[str] = []
    parts: list[str] = []
    for batch in dict.fromkeys((small, normal)):
        groups = _groups(by, models[0], batch)
        if any(groups.values()):
            others = _others(by, models[1:], small, other_keys) if batch == small else ""
            parts.append(f"At batch {batch} on the {head}, {_standing(groups)}{others}.")
            keys.append(_lead(groups).key)
    if not parts:
        return Verdict("This run had no batch-norm arm to compare the other norms with.", ())
    advice = _advice(by, models, small, normal)
    return Verdict(" ".join(parts + ([advice] if advice else [])), tuple(keys + other_keys))


def _others(by: dict[str, Finding], models: list[str], small: int, keys: list[str]) -> str:
    """'; on the 1-D CNN, none beat it reliably': the small-batch question on the other
    networks, whose leading comparisons are added to `keys`."""
    out = ""
    for model in models:
        groups = _groups(by, model, small)
        if any(groups.values()):
            beat = _names(groups[1]) if groups[1] else "none"
            out += f"; on the {MODEL_NAMES[model]}, {beat} beat it" + (
                "" if groups[1] else " reliably")
            keys.append(_lead(groups).key)
    return out


def _advice(by: dict[str, Finding], models: list[str], small: int, normal: int) -> str:
    tiny = {m: _winners(by, m, small) for m in models} if small != normal else {}
    shown = [m for m in models if tiny.get(m)]
    if shown:
        # Norms that beat batch norm are not compared with each other, so all are named.
        where = f" on the {MODEL_NAMES[shown[0]]}" if len(models) > 1 else ""
        return (f"So at batch {small}{where}, use {_names(tiny[shown[0]], 'or')} instead of "
                "batch norm.")
    # Not even the no-norm control may have beaten it anywhere the verdict speaks of.
    beaten = _groups(by, models[0], normal)[1] + [
        f for m in models for f in _groups(by, m, small)[1]]
    return "" if beaten else "So batch norm is a sound default here."
