"""covariate_shift_generalization: "couldn't a shift in the distribution of features during
training help the network generalize, like training on both black and coloured cats?"

Every kind of shift the question could mean trains side by side in one batched MLP, the same
seeds (initialisation and data order) in every cell, so comparisons are paired by seed:

- a deliberately shifting distribution of hidden features: Santurkar et al.'s (2018, Sec. 2.1)
  noise after batch norm, a random scale and offset per unit redrawn every step plus a little
  per-sample noise (`noisy_batchnorm`), at several levels; the per-sample part alone
  (`sample_noise_batchnorm`), which separates the two; and the same noise without any
  normalization (`noisy_no_norm`);
- the randomness batch norm itself adds, because an example's statistics depend on which
  examples share its batch: ghost batch norm over smaller groups inside a fixed batch (Hoffer,
  Hubara & Soudry 2017; Summers & Dinneen 2020);
- shifts of the data, the "cats" of the question (experiments.augment): a random gain and
  offset of the input signal, shared by a whole batch (the input distribution shifts from step
  to step; batch norm cancels it by construction, so with batch norm this arm is a control) or
  drawn per sample (every batch mixes "colours": data augmentation).

Modules: `spec` (parameters and cells), `measure` (training and the measured cells),
`findings` (the claims), `verdict` (the answer's first words and the run-dependent sentences
of the "Why"), `figures`.
"""

from __future__ import annotations

import math

from ... import datasets
from ...catalog import QuestionType, catalog_entry
from ...references import cite
from ...result import Result, RunContext
from ...runner import seeded_global_rng
from ...writeup import build_result, load_text, mean_pm, table
from . import figures
from .findings import findings as all_findings  # keeps the name `findings` for the module
from .measure import Measured, measure
from .spec import ID, SCHEMA
from .verdict import verdict as answer_verdict
from .verdict import why_values

OPTIMIZER_NAMES = {"adam": "Adam", "sgd": "SGD with momentum"}


def run(ctx: RunContext) -> Result:
    with seeded_global_rng(ctx.device):
        return _run(ctx)


def _run(ctx: RunContext) -> Result:
    p = ctx.params
    data = datasets.load("mnist1d", num_samples=p["num_samples"])
    measured = measure(ctx, data)
    ctx.progress(0.95, "figures and summary")
    found = all_findings(measured.cells, p)
    rows = measured.cells.rows()
    figs = [figures.figure_by_arm(ctx, rows, measured.plan),
            figures.figure_accuracy(ctx, rows, p, measured.n_train_eval),
            figures.figure_ghost(ctx, rows, p),
            figures.figure_activations(ctx, measured.history, measured.plan, p)]
    values = run_values(p, measured, len(data.y_train))
    return build_result(
        ctx, type_id=ID, title=QUESTION.title, schema=SCHEMA, verdict=answer_verdict(found),
        findings=found, rows=rows, figures=figs,
        references=cite("santurkar2018", "hoffer2017", "summers2020", "luo2019", "teye2018",
                        "ioffe2015", "wu2021", "greydanus2020"),
        dataset=data.describe(), setup=load_text(__name__, "setup.md", values),
        cells_table=cells_table(rows, measured), why=load_text(__name__, "why.md",
                                                               why_values(found)),
        limits=load_text(__name__, "limits.md", values))


def run_values(p: dict, measured: Measured, n_train: int) -> dict:
    """The words and numbers of this run that fill setup.md and limits.md."""
    arms = {c.arm for c in measured.plan}
    b = p["batch_size"]
    return {
        **p, "n_train": n_train, "n_test": measured.n_test,
        "n_train_eval": measured.n_train_eval,
        "n_as_trained": max(1, measured.n_train_eval // b) * b,
        "steps": measured.history.total_steps,
        "epochs_text": f"{p['epochs']} epoch" + ("s" if p["epochs"] != 1 else ""),
        "optimizer": OPTIMIZER_NAMES[p["optimizer"]],
        "noise_where": "every hidden layer" if p["noise_last_layer"] else
        "every hidden layer but the last (so the classifier never sees it directly)",
        "sample_noise_text": (f", plus Gaussian noise of spread {p['sample_noise']:g} drawn per "
                              "example and unit" if p["sample_noise"] > 0 else ""),
        "sample_arm_text": ("The arm with per-example noise only keeps that Gaussian part and "
                            "drops the shifts, to separate the two. "
                            if "sample_noise_batchnorm" in arms else ""),
        "batch_shift_text": (
            "The arm with the input shifted per batch is a control, not an experiment: batch "
            "norm subtracts each batch's mean and divides by its spread, so in training it "
            "cancels a scale and shift shared by the whole batch by construction, and that arm "
            "sees what plain batch norm sees (up to the small constant added to the variance). "
            if "input_shift" in arms else ""),
        "se_points": f"{100 * math.sqrt(0.25 / measured.n_test):.1f}",
        "levels": _listed(p["noise_levels"], arms & {"noisy_batchnorm", "noisy_no_norm"}),
        "ghosts": _listed(p["ghost_sizes"], arms & {"ghost_batchnorm"}),
        "input_levels": _listed(p["input_shift_levels"],
                                arms & {"input_shift", "input_augment", "input_shift_no_norm"}),
        "confound": confound(p, arms),
    }


def _listed(values, ran) -> str:
    return ", ".join(f"{v:g}" for v in sorted(set(values))) if ran else "none run"


def confound(p: dict, arms: set[str]) -> str:
    """What limits.md says about the per-example part of the shifting noise."""
    if "noisy_batchnorm" not in arms:
        return ""
    if p["sample_noise"] == 0:
        return "The shifting noise had no per-example part here, so it was a pure shift. "
    if "sample_noise_batchnorm" in arms:
        return ""
    return (f"The shifting noise also has a per-example part (spread {p['sample_noise']:g}) "
            "that this run did not separate from the shift; the sample_noise_batchnorm arm, "
            "or sample_noise=0, would. ")


COLUMNS = (("train_acc", "train acc"), ("test_acc", "test acc"), ("gap", "gap"),
           ("train_mode_train_acc", "as trained"), ("shifted_test_acc", "shifted test"))


def cells_table(rows: list[dict], measured: Measured) -> str:
    body = [[c.label] + [mean_pm(r, key) for key, _ in COLUMNS]
            for c, r in zip(measured.plan, rows, strict=True)]
    return table(["arm", *(name for _, name in COLUMNS)], body)


title, question = catalog_entry(ID)
QUESTION = QuestionType(ID, title, question, SCHEMA, run)
