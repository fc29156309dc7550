"""deep_gradients: "does batch norm fix vanishing or exploding gradients in deep networks?"

Plain MLPs of several depths, He-initialised, with batch norm and ReLU, without
normalization, with batch norm but no nonlinearity, and with batch norm and a large epsilon:
the norm of every layer's weight gradient at initialisation and after a short training run
(Yang et al. 2019, "A Mean Field Theory of Batch Normalization"). Modules: `spec`,
`measure`, `findings`, `figures`.
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
from .spec import ID, LABELS, RELU_RATE, SCHEMA, linear_rate


def run(ctx: RunContext) -> Result:
    p = ctx.params
    data = datasets.load("mnist1d", num_samples=p["num_samples"])
    measured = measure(ctx, data)
    ctx.progress(0.97, "figures and summary")
    depths = sorted(p["depths"])
    found = findings(measured.cells, depths, p["batch_size"], p["train_steps"])
    rows = measured.cells.rows()
    figs = [figures.figure_per_layer(ctx, measured.cells, p["arms"], max(depths)),
            figures.figure_growth(ctx, measured.cells, p["arms"], depths)]
    values = {**p, "depths_text": ", ".join(map(str, depths)), "n_train": len(data.y_train),
              "relu_rate": f"{RELU_RATE:.3f}", "linear_rate": f"{linear_rate(p['batch_size']):.3f}"}
    return build_result(
        ctx, type_id=ID, title=QUESTION.title, schema=SCHEMA, verdict=verdict(found),
        findings=found, rows=rows, figures=figs,
        references=cite("yang2019", "he2015", "ioffe2015", "de2020", "brock2021",
                        "greydanus2020"),
        dataset=data.describe(), setup=load_text(__name__, "setup.md", values),
        cells_table=cells_table(rows, depths), why=load_text(__name__, "why.md", {}),
        limits=load_text(__name__, "limits.md", values))


def cells_table(rows: list[dict], depths: list[int]) -> str:
    growth = {(r["arm"], r["depth"], r["phase"]): r for r in rows if r["layer"] is None}
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    body = [[f"{LABELS[a]}, {phase}"] + [mean_pm(growth[(a, d, phase)], "grad_growth_per_layer",
                                                 3) for d in depths]
            for a in arms for phase in ("init", "trained")]
    return table(["growth of ||dL/dW|| per layer", *(f"{d} layers" for d in depths)], body)


title, question = catalog_entry(ID)
QUESTION = QuestionType(ID, title, question, SCHEMA, run)
