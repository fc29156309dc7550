"""train_eval_gap: "why is my model much worse in eval mode than in train mode?"

Conditions that make batch norm's running averages disagree with the statistics the network
was trained with (class-sorted batches, tiny batches, a tiny running-average momentum,
fine-tuning on shifted data with small batches) are each compared with shuffled batches, and
the usual fixes are measured: PreciseBN and frozen batch norm (Wu & Johnson 2021). Modules:
`spec`, `measure`, `findings`, `figures`.
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
from .spec import BASE_MOMENTUM, ID, LABELS, SCHEMA


def run(ctx: RunContext) -> Result:
    p = ctx.params
    data = datasets.load("mnist1d", num_samples=p["num_samples"])
    cells = measure(ctx, data)
    ctx.progress(0.97, "figures and summary")
    found = findings(cells, p)
    # Every condition trains batch norm; the frozen fine-tune normalizes with fixed averages.
    rows = [{"arm": "batchnorm_frozen" if r["condition"] == "finetune_frozen" else "batchnorm",
             **r} for r in cells.rows() if r["condition"] != "finetune_twin"]
    rows += momentum_base_row(rows)
    figs = [figures.figure_modes(ctx, rows), figures.figure_momentum(ctx, rows)]
    values = text_values(p, data)
    return build_result(
        ctx, type_id=ID, title=QUESTION.title, schema=SCHEMA, verdict=verdict(found),
        findings=found, rows=rows, figures=figs,
        references=cite("wu2021", "ioffe2015", "ioffe2017", "greydanus2020"),
        dataset=data.describe(), setup=load_text(__name__, "setup.md", values),
        cells_table=cells_table(rows), why=load_text(__name__, "why.md", {}),
        limits=load_text(__name__, "limits.md", values))


def momentum_base_row(rows: list[dict]) -> list[dict]:
    """The momentum sweep's row at the base momentum is the iid cell itself."""
    if not any(r["condition"] == "momentum" for r in rows):
        return []
    base = next(r for r in rows if r["condition"] == "iid")
    return [{**base, "condition": "momentum"}]


def text_values(p: dict, data: datasets.Dataset) -> dict:
    n_shift = p["finetune_samples"]
    return {**p, "n_train": len(data.y_train), "n_test": len(data.y_test),
            "epochs_text": f"{p['epochs']} epoch" + ("s" if p["epochs"] != 1 else ""),
            "small_epochs_text": f"{p['small_batch_epochs']} epoch"
                                 + ("s" if p["small_batch_epochs"] != 1 else ""),
            "momentums": ", ".join(f"{m:g}" for m in sorted(set(p["bn_momentums"]))),
            "n_shift_train": int(n_shift * 0.8), "n_shift_test": n_shift - int(n_shift * 0.8)}


def cells_table(rows: list[dict]) -> str:
    body = []
    for r in rows:
        if r["condition"] == "momentum" and r["momentum"] == BASE_MOMENTUM:
            continue  # the iid row
        name = (f"momentum {r['momentum']:g}" if r["condition"] == "momentum"
                else LABELS.get(r["condition"], r["condition"]))
        body.append([name, mean_pm(r, "eval_acc"), mean_pm(r, "train_mode_acc"),
                     mean_pm(r, "precise_acc"), mean_pm(r, "stat_ratio")])
    return table(["condition", "eval mode", "train mode", "PreciseBN", "variance ratio"], body)


title, question = catalog_entry(ID)
QUESTION = QuestionType(ID, title, question, SCHEMA, run)
