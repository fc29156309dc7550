"""weight_decay: "what does weight decay do to weights that feed a batch norm layer?"

SGD with several weight decays on the weights feeding each batch norm, and an arm with no
decay but an exponentially growing learning rate (Li & Arora 2020), all seeds and arms in one
batched model; measured: weight norms, the effective learning rate, the angular step against
its predicted equilibrium, and test accuracy. Modules: `spec`, `measure`, `findings`,
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
from .spec import ID, SCHEMA, decays, target_decay


def run(ctx: RunContext) -> Result:
    p = ctx.params
    data = datasets.load("mnist1d", num_samples=p["num_samples"])
    cells = measure(ctx, data)
    ctx.progress(0.97, "figures and summary")
    found = findings(cells, target_decay(p))
    rows = cells.rows()
    figs = [figures.figure_norms(ctx, rows), figures.figure_angles(ctx, rows)]
    values = {**p, "n_train": len(data.y_train), "n_test": len(data.y_test),
              "weight_decays": ", ".join(f"{w:g}" for w in decays(p))}
    return build_result(
        ctx, type_id=ID, title=QUESTION.title, schema=SCHEMA, verdict=verdict(found),
        findings=found, rows=rows, figures=figs,
        references=cite("laarhoven2017", "li2020", "ioffe2015", "greydanus2020"),
        dataset=data.describe(), setup=load_text(__name__, "setup.md", values),
        cells_table=cells_table(rows), why=load_text(__name__, "why.md", {}),
        limits=load_text(__name__, "limits.md", values))


def cells_table(rows: list[dict]) -> str:
    body = [[figures.arm_label(r), mean_pm(r, "w_norm_start"), mean_pm(r, "w_norm_end"),
             mean_pm(r, "effective_lr_end", 4), mean_pm(r, "angular_step_end", 4),
             f"{r['predicted_angular_step']:.4f}", mean_pm(r, "test_acc")] for r in rows]
    return table(["arm", "norm at start", "norm at end", "effective lr", "angular step",
                  "predicted", "test accuracy"], body)


title, question = catalog_entry(ID)
QUESTION = QuestionType(ID, title, question, SCHEMA, run)
