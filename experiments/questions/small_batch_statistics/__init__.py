"""small_batch_statistics: "with small batches, why not normalize with the running (EWA)
statistics during training too?"

The asker's idea is the `ewa_forward` norm: the running averages normalize the training forward
pass, with no gradient through them. It is trained next to batch norm, batch renormalization
(Ioffe 2017), group norm (Wu & He 2018) and no normalization, over a sweep of batch sizes that
includes the asker's own, at equal epochs. Modules: `spec` (parameters and arms), `measure`
(training and the measured cells), `findings` (claims and verdict), `figures`.
"""

from __future__ import annotations

from ... import datasets
from ...catalog import QuestionType, catalog_entry
from ...references import cite
from ...result import Result, RunContext
from ...sweeps import batch_sizes, normal_batch
from ...writeup import build_result, load_text, mean_pm, table
from . import figures
from .findings import findings, verdict
from .measure import measure
from .spec import ARMS, ID, LABELS, RULES, SCHEMA


def run(ctx: RunContext) -> Result:
    p = ctx.params
    data = datasets.load("mnist1d", num_samples=p["num_samples"])
    measured = measure(ctx, data)
    ctx.progress(0.97, "figures and summary")
    sizes = batch_sizes(p)
    small, normal = sizes[0], normal_batch(p)
    found = findings(measured.cells, small, normal, p["arms"])
    rows = measured.cells.rows()
    figs = [figures.figure_accuracy(ctx, rows, p["arms"]),
            figures.figure_eval_vs_train(ctx, rows, p["arms"]),
            figures.figure_curves(ctx, measured.curves, p["arms"], small)]
    values = {**p, "model_name": "An MLP" if p["model"] == "mlp" else "A 1-D CNN",
              "training": training_text(p, sizes, measured.steps, len(data.y_train)),
              "not_run": not_run_text(p["arms"]),
              "sizes": ", ".join(map(str, sizes)), "n_train": len(data.y_train),
              "n_test": len(data.y_test), "lr_rule": RULES[p["lr_rule"]],
              "optimizer": "SGD with momentum" if p["optimizer"] == "sgd" else "Adam"}
    return build_result(
        ctx, type_id=ID, title=QUESTION.title, schema=SCHEMA,
        verdict=verdict(found, small, normal), findings=found, rows=rows, figures=figs,
        references=cite("ioffe2015", "ioffe2017", "wu2018", "wu2021", "yan2020",
                        "greydanus2020"),
        dataset=data.describe(), setup=load_text(__name__, "setup.md", values),
        cells_table=cells_table(rows, sizes), why=load_text(__name__, "why.md", {}),
        limits=load_text(__name__, "limits.md", values))


def training_text(p: dict, sizes: list[int], steps: dict[int, int], n_train: int) -> str:
    """How long each batch size trained, naming the sizes that `min_steps` lengthened."""
    epochs = f"{p['epochs']} epoch" + ("s" if p["epochs"] != 1 else "")
    counts = ", ".join(f"{steps[b]:,}" for b in sizes)
    lifted = [b for b in sizes if steps[b] > p["epochs"] * (n_train // b)]
    if not lifted:
        return f"for {epochs}, so smaller batches took more steps ({counts})"
    names = ", ".join(f"batch {b} ({steps[b] * b / n_train:.0f} epochs)" for b in lifted)
    return (f"for {epochs}, but never for fewer than {p['min_steps']:,} steps, so {names} "
            f"trained longer: at matched epochs a large batch takes few steps and would be "
            f"judged while still learning. Steps per batch size: {counts}")


def not_run_text(arms: list[str]) -> str:
    """Names the type's standard arms that this run left out, so a reader does not take their
    absence from the tables for a result."""
    missing = [LABELS[a] for a in ARMS if a not in arms]
    return f" Not run here: {', '.join(missing)}." if missing else ""


def cells_table(rows: list[dict], sizes: list[int]) -> str:
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    body = []
    for arm in arms:
        by_size = {r["batch_size"]: r for r in rows if r["arm"] == arm}
        body.append([LABELS[arm]] + [mean_pm(by_size[b], "test_acc") if b in by_size else "-"
                                     for b in sizes])
    return table(["test accuracy", *(f"batch {b}" for b in sizes)], body)


title, question = catalog_entry(ID)
QUESTION = QuestionType(ID, title, question, SCHEMA, run)
