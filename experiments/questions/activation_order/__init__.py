"""activation_order: "should batch norm go before or after the activation?"

Batch norm before ReLU (Linear -> BN -> ReLU, Ioffe & Szegedy 2015's placement), after it
(Linear -> ReLU -> BN) and no normalization train side by side in an MLP and the MNIST-1D
CNN, at a small sweep of learning rates, with paired seeds. Modules: `spec` (parameters and
arms), `measure` (training and the measured cells), `findings` (claims and verdict),
`figures`.
"""

from __future__ import annotations

from ... import datasets
from ...catalog import QuestionType, catalog_entry
from ...references import cite
from ...result import Result, RunContext
from ...writeup import build_result, load_text, mean_pm, table
from . import figures
from .findings import findings, verdict
from .measure import measure
from .spec import ID, LABELS, MODEL_NAMES, SCHEMA


def run(ctx: RunContext) -> Result:
    p = ctx.params
    data = datasets.load("mnist1d", num_samples=p["num_samples"])
    measured = measure(ctx, data)
    ctx.progress(0.97, "figures and summary")
    arms, kinds, lrs = p["arms"], p["models"], p["lrs"]
    found = findings(measured.cells, kinds, lrs)
    rows = measured.cells.rows()
    figs = [figures.figure_accuracy(ctx, measured.cells, arms, kinds, lrs),
            figures.figure_difference(ctx, measured.cells, kinds, lrs),
            figures.figure_layer_inputs(ctx, measured.layer_inputs, arms, kinds[0], lrs[0])]
    values = {**p, "networks": " and ".join(MODEL_NAMES[k] for k in kinds),
              "lrs_text": ", ".join(f"{lr:g}" for lr in lrs),
              "n_train": len(data.y_train), "n_test": len(data.y_test),
              "steps": measured.steps, "probe_samples": measured.probe_samples,
              "optimizer_text": (f"SGD with momentum {p['momentum']:g}"
                                 if p["optimizer"] == "sgd" else "Adam")}
    return build_result(
        ctx, type_id=ID, title=QUESTION.title, schema=SCHEMA,
        verdict=verdict(found, kinds, lrs), findings=found, rows=rows, figures=figs,
        references=cite("ioffe2015", "he2016", "mishkin2017", "greydanus2020"),
        dataset=data.describe(), setup=load_text(__name__, "setup.md", values),
        cells_table=cells_table(rows, kinds, lrs), why=load_text(__name__, "why.md", {}),
        limits=load_text(__name__, "limits.md", values))


def cells_table(rows: list[dict], kinds: list[str], lrs: list[float]) -> str:
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    by = {(r["arm"], r["model"], r["lr"]): r for r in rows}
    heads = [f"{k} lr {lr:g}" for k in kinds for lr in lrs]
    body = [[LABELS[a]] + [mean_pm(by[(a, k, lr)], "test_acc") if (a, k, lr) in by else "-"
                           for k in kinds for lr in lrs] for a in arms]
    return table(["test accuracy", *heads], body)


title, question = catalog_entry(ID)
QUESTION = QuestionType(ID, title, question, SCHEMA, run)
