"""activation_order: the smoke run's contract, and every branch of the findings on synthetic
cells."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import catalog
from experiments.questions.activation_order.findings import findings, verdict
from experiments.runner import Cell, Cells
from experiments.writeup import compose_answer

from .result_checks import check_answer_text as check_answer
from .result_checks import check_rejected, check_result

ID = "activation_order"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("ao")
    catalog.get(ID).run_preset("smoke", out_dir=out, device="cpu")
    return out, check_result(out, ID, figures=(2, 4))


def test_rows_cover_every_arm_model_and_rate(result):
    _, data = result
    p = data["params"]
    cells = {(r["arm"], r["model"], r["lr"]) for r in data["rows"]}
    assert cells == {(a, m, lr) for a in p["arms"] for m in p["models"] for lr in p["lrs"]}
    for row in data["rows"]:
        assert {"test_acc", "train_loss", "diverged", "input_mean", "input_std",
                "n_seeds", "test_acc_ci95"} <= set(row)
        assert row["n_seeds"] == p["seeds"]


def test_layer_inputs_show_the_mechanism(result):
    """Before ReLU the next layer gets a ReLU output (never negative); after ReLU, batch
    norm's output, which is negative about half the time."""
    _, data = result
    for row in data["rows"]:
        if row["diverged"]:
            continue
        if row["arm"] == "bn_before_act":
            assert row["input_negative_frac"] == 0.0 and row["input_mean"] > 0.2
        if row["arm"] == "bn_after_act":
            assert 0.2 < row["input_negative_frac"] < 0.8


def test_answer_leads_with_the_verdict(result):
    _, data = result
    assert data["key_figure"] == "accuracy_by_order"
    assert data["verdict"]["findings"][0].startswith("before_vs_after_")


def synthetic(diffs: dict[tuple[str, float], float], noise: float = 0.01, seeds: int = 6
              ) -> Cells:
    """Cells whose before - after test accuracy is diffs[(model, lr)] plus small seed noise."""
    rng = np.random.default_rng(0)
    cells = Cells()
    for (model, lr), d in diffs.items():
        base = 0.7 + rng.normal(0, 0.03, seeds)
        for arm, acc in (("bn_before_act", base + d + rng.normal(0, noise, seeds)),
                         ("bn_after_act", base), ("no_norm", base - 0.05)):
            values = {"test_acc": acc, "input_mean": np.full(seeds, 0.4 if arm ==
                                                             "bn_before_act" else 0.0)
                      + rng.normal(0, 0.01, seeds)}
            cells.add([Cell({"arm": arm, "model": model, "lr": lr}, values,
                            np.zeros(seeds, bool))])
    return cells


def answer_of(cells, models, lrs):
    found = findings(cells, models, lrs)
    v = verdict(found, models, lrs)
    answer = compose_answer(v, found)
    check_answer(answer, v.text, [f.text for f in found])
    return v, answer, found


def test_no_difference_is_said_when_every_interval_covers_zero():
    cells = synthetic({("mlp", 0.05): 0.0, ("mlp", 0.2): 0.0, ("cnn", 0.05): 0.0})
    v, answer, _ = answer_of(cells, ["mlp", "cnn"], [0.05, 0.2])
    assert v.text.startswith("No reliable difference")
    assert "won" not in v.text


def test_a_winner_is_named_only_where_its_interval_excludes_zero():
    cells = synthetic({("mlp", 0.05): 0.0, ("mlp", 0.2): -0.08, ("mlp", 0.01): 0.0})
    v, answer, found = answer_of(cells, ["mlp"], [0.01, 0.05, 0.2])
    assert v.text.startswith("Mostly no reliable difference")
    assert "after ReLU won for the MLP at learning rate 0.2" in v.text
    assert "0.05" not in v.text and "0.01" not in v.text
    assert v.findings == ("before_vs_after_mlp_lr0.2",)
    half = synthetic({("mlp", 0.05): 0.0, ("mlp", 0.2): -0.08})
    assert answer_of(half, ["mlp"], [0.05, 0.2])[0].text.startswith("It depends")


def test_one_order_winning_everywhere_is_said_plainly():
    cells = synthetic({("mlp", 0.05): 0.06, ("mlp", 0.2): 0.07})
    v, _, _ = answer_of(cells, ["mlp"], [0.05, 0.2])
    assert v.text.startswith("Batch norm before ReLU did better in every setting")


def test_diverged_seeds_are_named_and_scored_at_chance():
    cells = synthetic({("mlp", 0.2): 0.0})
    cell = cells.get(arm="bn_after_act", model="mlp", lr=0.2)
    cell.diverged[:2] = True
    cell.values["test_acc"][:2] = 0.1
    _, answer, found = answer_of(cells, ["mlp"], [0.2])
    assert any(f.key == "diverged_bn_after_act_mlp_lr0.2" for f in found)
    assert "Diverged: batch norm after ReLU in 2 of 6 seeds" in answer


@pytest.mark.parametrize(("override", "field"), [
    ({"arms": ["bn_before_act", "magic"]}, "arms"),
    ({"models": ["gru"]}, "models"),
    ({"lrs": [0]}, "lrs"),
    ({"seeds": 100}, "seeds"),
    ({"nope": 1}, "nope"),
])
def test_bad_parameters_are_rejected_with_the_field(override, field):
    check_rejected(ID, override, field)
