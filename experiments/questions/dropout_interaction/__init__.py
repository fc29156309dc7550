"""dropout_interaction: "should I use dropout with batch norm, and where?"

Dropout before each batch norm or only before the classifier, at several rates and two
widths, with the variance shift of Li et al. (2019) measured directly. Modules: `spec`,
`measure`, `findings`, `figures`.
"""

from __future__ import annotations

from ... import datasets
from ...catalog import QuestionType, catalog_entry
from ...references import cite
from ...result import Result, RunContext
from ...runner import seeded_global_rng
from ...writeup import build_result, load_text, mean_pm, table
from . import figures
from .findings import findings, verdict
from .measure import measure
from .spec import ID, LABELS, SCHEMA, target_rate
from .spec import rates as all_rates


def run(ctx: RunContext) -> Result:
    with seeded_global_rng(ctx.device):
        return _run(ctx)


def _run(ctx: RunContext) -> Result:
    p = ctx.params
    data = datasets.load("mnist1d", num_samples=p["num_samples"])
    cells = measure(ctx, data)
    ctx.progress(0.97, "figures and summary")
    widths = sorted({int(w) for w in p["widths"]})
    rates = all_rates(p)
    found = findings(cells, widths, rates)
    rows = cells.rows()
    figs = [figures.figure_accuracy(ctx, rows), figures.figure_variance(ctx, rows)]
    values = {**p, "n_train": len(data.y_train), "n_test": len(data.y_test),
              "widths_text": " and ".join(map(str, widths)),
              "widths_label": ("width " if len(widths) == 1 else "widths ")
              + " and ".join(map(str, widths)),
              "rates_text": ", ".join(f"{r:g}" for r in rates),
              "epochs_text": f"{p['epochs']} epoch" + ("s" if p["epochs"] != 1 else ""),
              "optimizer": "Adam" if p["optimizer"] == "adam" else "SGD with momentum"}
    return build_result(
        ctx, type_id=ID, title=QUESTION.title, schema=SCHEMA,
        verdict=verdict(found, widths[0], rates, target_rate(p)), findings=found, rows=rows,
        figures=figs,
        references=cite("li2019", "ioffe2015", "greydanus2020"), dataset=data.describe(),
        setup=load_text(__name__, "setup.md", values), cells_table=cells_table(rows),
        why=load_text(__name__, "why.md", {}), limits=load_text(__name__, "limits.md", values))


def cells_table(rows: list[dict]) -> str:
    body = [[LABELS[r["placement"]], f"{r['p']:g}", str(r["width"]), mean_pm(r, "test_acc"),
             mean_pm(r, "train_mode_acc"), mean_pm(r, "var_ratio")] for r in rows]
    return table(["placement", "p", "width", "test accuracy", "train mode",
                  "variance ratio"], body)


title, question = catalog_entry(ID)
QUESTION = QuestionType(ID, title, question, SCHEMA, run)
