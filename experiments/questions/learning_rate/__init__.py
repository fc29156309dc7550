"""learning_rate: "does batch norm let me train with a higher learning rate?"

A deep-ish MLP with and without batch norm trains at every rate of a grid spanning several
decades, with plain SGD (no momentum) for a fixed number of steps, and optionally Adam for the
caveat; the largest stable rate, the accuracy at a matched low rate and the accuracy at each
arm's best rate answer it (Ioffe & Szegedy 2015; Bjorck et al. 2018). Modules: `spec`,
`measure`, `findings`, `figures`.
"""

from __future__ import annotations

from ... import datasets
from ...catalog import QuestionType, catalog_entry
from ...references import cite
from ...result import Result, RunContext
from ...writeup import build_result, load_text, mean_pm, table
from . import figures
from .findings import findings, lr_text, verdict
from .measure import LOSS_SAMPLES, measure
from .spec import ID, LABELS, OPTIMIZER_NAMES, SCHEMA, grid, matched


def run(ctx: RunContext) -> Result:
    p = ctx.params
    data = datasets.load("mnist1d", num_samples=p["num_samples"])
    measured = measure(ctx, data)
    ctx.progress(0.97, "figures and summary")
    lrs, opts, low = grid(p), p["optimizers"], matched(p)
    found = findings(measured.cells, opts, low)
    rows = measured.cells.rows()
    figs = [figures.figure_sweep(ctx, measured.cells, p["arms"], opts[0], lrs),
            figures.figure_stability(ctx, measured.cells, p["arms"], opts, lrs)]
    if len(opts) > 1:
        figs.append(figures.figure_sweep(ctx, measured.cells, p["arms"], opts[1], lrs))
    values = {**p, "grid_text": ", ".join(lr_text(lr) for lr in lrs), "low": lr_text(low),
              "n_train": len(data.y_train), "n_test": len(data.y_test),
              "loss_samples": LOSS_SAMPLES,
              "optimizers_text": " and ".join(OPTIMIZER_NAMES[o] for o in opts)}
    return build_result(
        ctx, type_id=ID, title=QUESTION.title, schema=SCHEMA, verdict=verdict(found, opts),
        findings=found, rows=rows, figures=figs,
        references=cite("ioffe2015", "bjorck2018", "santurkar2018", "de2020", "brock2021",
                        "greydanus2020"),
        dataset=data.describe(), setup=load_text(__name__, "setup.md", values),
        cells_table=cells_table(rows, opts), why=load_text(__name__, "why.md", {}),
        limits=load_text(__name__, "limits.md", values))


def cells_table(rows: list[dict], opts: list[str]) -> str:
    body = []
    for r in rows:
        if r["lr"] is not None or r["optimizer"] not in opts:
            continue
        body.append([f"{LABELS[r['arm']]}, {OPTIMIZER_NAMES[r['optimizer']]}",
                     lr_text(r["max_stable_lr"]), lr_text(r["best_lr"]),
                     mean_pm(r, "best_test_acc")])
    return table(["arm", "largest stable rate (every seed)", "best rate",
                  "test accuracy at best rate"], body)


title, question = catalog_entry(ID)
QUESTION = QuestionType(ID, title, question, SCHEMA, run)
