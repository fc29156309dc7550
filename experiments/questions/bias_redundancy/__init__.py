"""bias_redundancy: "why drop the bias of the layer before batch norm?"

The same network, with and without the bias of each layer that feeds a norm, trains from
identical weights and data order, with batch norm and without, under SGD and Adam. The bias
gradient, the bias's drift and the difference of the training loss between the twin runs
answer it (Ioffe & Szegedy 2015, Sec. 3.2). Modules: `spec`, `measure`, `findings`,
`figures`.
"""

from __future__ import annotations

import math

from ... import datasets
from ...catalog import QuestionType, catalog_entry
from ...references import cite
from ...result import Result, RunContext
from ...writeup import build_result, load_text, mean_pm, table
from . import figures
from .findings import MOVED, ROUND_OFF, TOLERANCE, findings, verdict
from .measure import N_EVALS, measure
from .spec import ID, LABELS, OPTIMIZER_NAMES, SCHEMA


def run(ctx: RunContext) -> Result:
    p = ctx.params
    data = datasets.load("mnist1d", num_samples=p["num_samples"])
    measured = measure(ctx, data)
    ctx.progress(0.97, "figures and summary")
    opts = p["optimizers"]
    found = findings(measured.cells, opts)
    rows = measured.cells.rows()
    figs = [figures.figure_loss_diff(ctx, measured.loss_diffs, opts),
            figures.figure_grad_ratio(ctx, measured.grad_ratios, opts)]
    values = {**p, "model_name": "An MLP" if p["model"] == "mlp" else "A 1-D CNN",
              "n_train": len(data.y_train), "n_test": len(data.y_test), "n_evals": N_EVALS,
              "optimizers_text": " and ".join(OPTIMIZER_NAMES[o] for o in opts),
              "round_off": f"1e{ROUND_OFF:g}", "tolerance": f"{TOLERANCE:g}",
              "moved": f"{MOVED:g}"}
    return build_result(
        ctx, type_id=ID, title=QUESTION.title, schema=SCHEMA, verdict=verdict(found, opts),
        findings=found, rows=rows, figures=figs,
        references=cite("ioffe2015", "kingma2015", "greydanus2020"),
        dataset=data.describe(), setup=load_text(__name__, "setup.md", values),
        cells_table=cells_table(rows), why=load_text(__name__, "why.md", {}),
        limits=load_text(__name__, "limits.md", values))


def _sci(row: dict, metric: str) -> str:
    value = row.get(metric)
    return "-" if value is None or not math.isfinite(value) else f"{value:.1e}"


def cells_table(rows: list[dict]) -> str:
    """Means over seeds; round-off quantities in scientific notation."""
    body = [[f"{LABELS[r['arm']]}, {OPTIMIZER_NAMES[r['optimizer']]}", mean_pm(r, "test_acc"),
             _sci(r, "bias_grad_ratio"), _sci(r, "bias_drift"), "-"]
            for r in rows if "pair" not in r]
    body += [[f"{PAIR_NAMES[r['pair']]}, {OPTIMIZER_NAMES[r['optimizer']]}", "-", "-", "-",
              _sci(r, "max_loss_diff")] for r in rows if "pair" in r]
    return table(["arm", "test accuracy", "largest bias/weight gradient ratio",
                  "bias drift", "largest loss difference, with vs without bias"], body)


PAIR_NAMES = {"bn": "batch norm pair", "no_norm": "no-normalization pair"}


title, question = catalog_entry(ID)
QUESTION = QuestionType(ID, title, question, SCHEMA, run)
