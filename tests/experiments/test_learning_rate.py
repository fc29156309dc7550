"""learning_rate: the smoke run's contract, the max-stable-rate rule, and the findings'
branches on synthetic cells."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import catalog
from experiments.questions.learning_rate.findings import findings, verdict
from experiments.questions.learning_rate.measure import arm_cell
from experiments.runner import Cell, Cells
from experiments.writeup import compose_answer

from .result_checks import check_answer_text as check_answer
from .result_checks import check_rejected, check_result

ID = "learning_rate"
LRS = [0.01, 0.1, 1.0, 10.0]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("lr")
    catalog.get(ID).run_preset("smoke", out_dir=out, device="cpu")
    return out, check_result(out, ID, figures=(2, 4))


def test_rows_per_arm_and_rate_and_per_arm(result):
    _, data = result
    p = data["params"]
    swept = [r for r in data["rows"] if r["lr"] is not None]
    assert {(r["arm"], r["optimizer"], r["lr"]) for r in swept} == {
        (a, o, lr) for a in p["arms"] for o in p["optimizers"] for lr in p["lr_grid"]}
    for r in swept:
        assert {"final_train_loss", "test_acc", "diverged", "stable"} <= set(r)
        assert 0 <= r["diverged"] <= 1
    limits = [r for r in data["rows"] if r["lr"] is None]
    assert {r["arm"] for r in limits} == set(p["arms"])
    for r in limits:
        assert {"max_stable_lr", "best_lr", "best_test_acc"} <= set(r)
        assert r["best_lr"] in p["lr_grid"]
        stable_at = [s["lr"] for s in swept if s["arm"] == r["arm"] and s["stable"] == 1.0]
        assert r["max_stable_lr"] == (max(stable_at) if stable_at else None)


def sweep(arm: str, stable_up_to: list[float], acc: dict[float, float], seeds: int = 5,
          opt: str = "sgd", noise: float = 0.01) -> list[Cell]:
    """Cells of one arm: seed s is stable up to stable_up_to[s]."""
    rng = np.random.default_rng(len(arm))
    out = []
    for lr in LRS:
        stable = np.array([float(lr <= top) for top in stable_up_to[:seeds]])
        dead = stable == 0
        values = {"stable": stable, "test_acc": np.where(dead, 0.1, acc[lr] + rng.normal(
                      0, noise, seeds)), "final_train_loss": np.where(dead, np.nan, 1.0)}
        out.append(Cell({"arm": arm, "optimizer": opt, "lr": lr}, values, dead))
    return out


def cells_of(bn_tops, none_tops, bn_acc, none_acc, optimizers=("sgd",)) -> Cells:
    cells = Cells()
    for opt in optimizers:
        cells.add(sweep("batchnorm", bn_tops, bn_acc, opt=opt))
        cells.add(sweep("no_norm", none_tops, none_acc, opt=opt))
        for arm in ("batchnorm", "no_norm"):
            cells.add([arm_cell(cells, arm, opt, LRS)])
    return cells


def answer_of(cells, optimizers=("sgd",)):
    found = findings(cells, list(optimizers), 0.01)
    v = verdict(found, list(optimizers))
    answer = compose_answer(v, found)
    check_answer(answer, v.text, [f.text for f in found])
    return v, answer, {f.key: f for f in found}


ACC = {0.01: 0.6, 0.1: 0.7, 1.0: 0.72, 10.0: 0.5}


def test_max_stable_rate_needs_every_seed():
    cells = cells_of([10, 10, 1, 10, 10], [0.1] * 5, ACC, ACC)
    bn = cells.get(arm="batchnorm", optimizer="sgd", lr=None)
    assert bn.extra["max_stable_lr"] == 1.0 and not bn.extra["at_grid_top"]
    assert list(bn.values["seed_max_stable_lr"]) == [10, 10, 1, 10, 10]


def test_yes_when_batch_norm_is_stable_at_higher_rates():
    v, answer, by = answer_of(cells_of([1.0] * 5, [0.1] * 5, ACC, ACC))
    assert v.text.startswith("Yes")
    head = by["max_stable_lr_ratio_sgd"]
    assert head.direction == 1 and head.diff == pytest.approx(10.0)
    assert "was 1 with batch norm and 0.1 without" in head.text
    assert by["matched_lr_acc_sgd"].direction == 0
    assert "similar accuracy" in v.text


def test_a_limit_at_the_top_of_the_grid_is_a_lower_bound():
    _, _, by = answer_of(cells_of([10.0] * 5, [1.0] * 5, ACC, ACC))
    assert "at least 10 with batch norm" in by["max_stable_lr_ratio_sgd"].text


def test_not_when_the_limits_agree():
    v, _, by = answer_of(cells_of([1.0] * 5, [1.0] * 5, ACC, ACC))
    assert v.text.startswith("Not in this run")
    assert by["max_stable_lr_ratio_sgd"].direction == 0


def test_adam_caveat_only_when_adam_ran():
    _, _, by = answer_of(cells_of([1.0] * 5, [0.1] * 5, ACC, ACC))
    assert "max_stable_lr_ratio_adam" not in by
    v, _, by = answer_of(cells_of([1.0] * 5, [0.1] * 5, ACC, ACC, ("sgd", "adam")),
                         ("sgd", "adam"))
    assert "max_stable_lr_ratio_adam" in v.findings


@pytest.mark.parametrize(("override", "field"), [
    ({"arms": ["batchnorm", "magic"]}, "arms"),
    ({"lr_grid": [0]}, "lr_grid"),
    ({"optimizers": ["lbfgs"]}, "optimizers"),
    ({"depth": 1}, "depth"),
    ({"nope": 1}, "nope"),
])
def test_bad_parameters_are_rejected_with_the_field(override, field):
    check_rejected(ID, override, field)
