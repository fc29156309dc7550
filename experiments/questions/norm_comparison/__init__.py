"""norm_comparison: "batch norm, layer norm, group norm or instance norm: which should I use?"

Every normalization trains on the MNIST-1D CNN (where instance and group norm differ from
layer norm) and the MLP, over batch sizes from tiny to normal at equal epochs, all arms and
seeds of one network and batch size in one batched model (Wu & He 2018 is the reference
comparison). Modules: `spec`, `measure`, `findings`, `figures`.
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
from .spec import ID, LABELS, MODEL_NAMES, SCHEMA


def run(ctx: RunContext) -> Result:
    p = ctx.params
    data = datasets.load("mnist1d", num_samples=p["num_samples"])
    cells = measure(ctx, data)
    ctx.progress(0.97, "figures and summary")
    sizes = batch_sizes(p)
    small, normal = sizes[0], normal_batch(p)
    models = p["models"]
    found = findings(cells, models, small, normal)
    rows = cells.rows()
    figs = [figures.figure_accuracy(ctx, rows, models),
            figures.figure_train_loss(ctx, rows, models)]
    values = {**text_values(p, data, sizes), "training_limit": training_limit(p, rows, normal)}
    return build_result(
        ctx, type_id=ID, title=QUESTION.title, schema=SCHEMA,
        verdict=verdict(found, models, small, normal), findings=found, rows=rows,
        figures=figs, references=cite("wu2018", "ba2016", "ulyanov2016", "ioffe2015",
                                      "greydanus2020"),
        dataset=data.describe(), setup=load_text(__name__, "setup.md", values),
        cells_table=cells_table(rows, models, sizes), why=load_text(__name__, "why.md", {}),
        limits=load_text(__name__, "limits.md", values))


def text_values(p: dict, data: datasets.Dataset, sizes: list[int]) -> dict:
    described = {"cnn": f"a 1-D CNN with {p['cnn_depth']} conv layers of "
                        f"{p['cnn_channels']} channels",
                 "mlp": f"an MLP with {p['mlp_depth']} hidden layers of {p['mlp_width']} units"}
    nets = [described[m] for m in p["models"]]
    instance = "instancenorm" in p["arms"]
    mlp = "mlp" in p["models"]
    return {**p, "n_train": len(data.y_train), "n_test": len(data.y_test),
            "networks": " and ".join(nets), "sizes": ", ".join(map(str, sizes)),
            "epochs_text": f"{p['epochs']} epoch" + ("s" if p["epochs"] != 1 else ""),
            "instance_note": " (run on the CNN only: an MLP unit has one value per sample, "
                             "so there is nothing to normalize over)" if instance and mlp
                             else "",
            "instance_limit": "; the MLP was not run" if "mlp" not in p["models"] else ""}


def training_limit(p: dict, rows: list[dict], normal: int) -> str:
    """A sentence when training at the normal batch size was short, judged by the cells whose
    mean training loss at the end was still above the loss target; empty otherwise."""
    at = [r for r in rows if r["batch_size"] == normal and r.get("train_loss") is not None]
    short = [r for r in at if r["train_loss"] > p["loss_target"]]
    if not short:
        return ""
    amount = f"all {len(at)}" if len(short) == len(at) else f"{len(short)} of {len(at)}"
    steps = max(r["steps"] for r in at)
    return (f" At batch {normal} ({steps:,} steps), {amount} norm and network pairs ended "
            f"above the training-loss target of {p['loss_target']:g}, so the ranking there is "
            "that of early training.")


def cells_table(rows: list[dict], models: list[str], sizes: list[int]) -> str:
    body = []
    for model in models:
        for arm in LABELS:
            by_size = {r["batch_size"]: r for r in rows
                       if r["arm"] == arm and r["model"] == model}
            if by_size:
                body.append([MODEL_NAMES[model], LABELS[arm]]
                            + [mean_pm(by_size[b], "test_acc") if b in by_size else "-"
                               for b in sizes])
    return table(["network", "test accuracy", *(f"batch {b}" for b in sizes)], body)


title, question = catalog_entry(ID)
QUESTION = QuestionType(ID, title, question, SCHEMA, run)
