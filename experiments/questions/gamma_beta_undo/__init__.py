"""gamma_beta_undo: "if gamma and beta are trained too, why wouldn't backprop just use them to
cancel batch norm?"

Three arms train side by side in one batched MLP, the same seeds in each: batch norm, batch
norm with the batch statistics detached from the gradient (the "normalization outside the
gradient step" of Ioffe & Szegedy 2015, Sec. 2) and no normalization. SGD is the main
optimizer; Adam can be added as a contrast. Modules: `spec` (parameters and arms), `measure`
(training and the measured cells), `metrics` (the undo distance and the other per-member
measurements), `findings` (claims and verdict), `figures`.
"""

from __future__ import annotations

import math

from ... import datasets
from ...catalog import QuestionType, catalog_entry
from ...references import cite
from ...result import Result, RunContext
from ...writeup import build_result, load_text, mean_pm, table
from . import figures, findings, prose
from .measure import arms_and_optimizers, measure
from .spec import ID, LABELS, PER_STEPS, SCHEMA, main_optimizer


def run(ctx: RunContext) -> Result:
    p = ctx.params
    data = datasets.load("mnist1d", num_samples=p["num_samples"])
    arms, optimizers = arms_and_optimizers(p)
    main = main_optimizer(optimizers)
    measured = measure(ctx, data)
    ctx.progress(0.97, "figures and summary")
    found = findings.findings(measured.cells, arms, optimizers)
    steps, curves = measured.steps, measured.curves
    figs = [figures.figure_undo_distance(ctx, curves, steps, arms, main),
            figures.figure_gamma_sigma(ctx, measured.units, arms, p["depth"]),
            figures.figure_input_shift(ctx, curves, steps, arms, main, p["depth"]),
            figures.figure_drift(ctx, curves, steps, arms, optimizers),
            figures.figure_ics_landscape(ctx, measured.cells, curves, steps, arms, main,
                                         p["depth"])]
    values = prose.values(p, arms, optimizers, data, measured.probe_samples, len(steps))
    return build_result(
        ctx, type_id=ID, title=QUESTION.title, schema=SCHEMA,
        verdict=findings.verdict(found, optimizers), findings=found, rows=measured.cells.rows(),
        figures=figs,
        references=cite("ioffe2015", "goodfellow2016", "santurkar2018", "laarhoven2017",
                        "frankle2021", "greydanus2020"),
        dataset=data.describe(), setup=load_text(__name__, "setup.md", values),
        cells_table=cells_table(measured.cells.rows(), arms, main),
        why=load_text(__name__, "why.md", prose.why_values(found, main)),
        limits=load_text(__name__, "limits.md", values))


COLUMNS = (("test_acc", "test accuracy"), ("undo_distance_start", "undo distance, start"),
           ("undo_distance", "undo distance, end"), ("sigma_B_fold", "sigma_B change"),
           ("gamma_fold", "gamma change"), ("input_shift", f"input movement /{PER_STEPS} steps"),
           ("pre_norm_bias_growth", "bias growth"))


def cells_table(rows: list[dict], arms: list[str], main: str) -> str:
    """The whole-network cells of the main optimizer, one line per arm."""
    body = []
    for arm in arms:
        row = next(r for r in rows if r["arm"] == arm and r["optimizer"] == main
                   and r["layer"] == "all")
        body.append([LABELS[arm], *(mean_pm(row, key) if _measured(row.get(key)) else "-"
                                    for key, _ in COLUMNS), prose.diverged_text(row)])
    return (table(["arm", *(name for _, name in COLUMNS), "diverged"], body) + "\n\n"
            + TABLE_NOTE)


def _measured(value) -> bool:
    return value is not None and math.isfinite(value)


TABLE_NOTE = ("Main optimizer, whole network: arithmetic means over seeds ± the half-width of "
              "their 95% CI. Undo distances are medians over units averaged over layers; the "
              "sigma_B and gamma changes are fold changes (times larger or smaller, median over "
              "units, geometric mean over layers); growth is end over start of the summed bias "
              "norms; - where an arm has no gamma.")


title, question = catalog_entry(ID)
QUESTION = QuestionType(ID, title, question, SCHEMA, run)
