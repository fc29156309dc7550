"""weight_decay at the smoke preset: contract, the exp_lr schedule, findings and verdict."""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments import catalog
from experiments.questions.weight_decay.findings import findings, verdict
from experiments.runner import Cell, Cells

from .result_checks import check_rejected, check_result

ID = "weight_decay"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("wd")
    catalog.get(ID).run_preset("smoke", out_dir=out, device="cpu")
    return out, check_result(out, ID)


def test_rows_have_the_contract_fields(result):
    _, data = result
    arms = {(r["arm"], r["wd"]) for r in data["rows"]}
    assert arms == {("weight_decay", 0.0), ("weight_decay", 0.005), ("exp_lr", 0.005)}
    for row in data["rows"]:
        for key in ("w_norm_start", "w_norm_end", "effective_lr_end", "angular_step_end",
                    "predicted_angular_step", "test_acc"):
            assert row[key] is not None
        assert row["predicted_angular_step"] == pytest.approx(
            math.sqrt(2 * data["params"]["lr"] * row["wd"]))


def test_decay_keeps_the_weights_smaller_than_no_decay(result):
    _, data = result
    rows = {(r["arm"], r["wd"]): r for r in data["rows"]}
    assert rows[("weight_decay", 0.005)]["w_norm_end"] < rows[("weight_decay", 0.0)]["w_norm_end"]
    # The growing learning rate makes bigger steps, so its weights grow fastest.
    assert rows[("exp_lr", 0.005)]["w_norm_end"] > rows[("weight_decay", 0.0)]["w_norm_end"]


def cell(arm, wd, end, acc=0.6, angle=0.03, lr_end=0.1):
    n = 5
    jitter = np.linspace(-0.01, 0.01, n)
    values = {"w_norm_start": np.full(n, 4.0), "w_norm_end": end + jitter,
              "effective_lr_end": lr_end / (end + jitter) ** 2, "test_acc": acc + jitter,
              "angular_step_end": angle + jitter / 10}
    return Cell({"arm": arm, "wd": wd}, values, np.zeros(n, bool),
                {"predicted_angular_step": math.sqrt(2 * 0.1 * wd)})


def test_growth_without_decay_and_a_higher_effective_rate_with_it():
    found = findings(Cells([cell("weight_decay", 0.0, 8.0), cell("weight_decay", 5e-3, 6.0)]))
    by = {f.key: f for f in found}
    assert by["growth_no_decay"].direction == 1
    assert by["effective_lr_decay_vs_none"].direction == 1
    assert "decay kept it up" in verdict(found).text


def test_no_measured_effect_is_said_so():
    found = findings(Cells([cell("weight_decay", 0.0, 6.0), cell("weight_decay", 5e-3, 6.0)]))
    assert "did not measurably keep the effective learning rate up" in verdict(found).text


def test_angular_step_against_its_prediction():
    found = findings(Cells([cell("weight_decay", 5e-3, 6.0, angle=math.sqrt(1e-3))]))
    assert {f.key: f for f in found}["angle_wd0.005"].direction == 0
    slow = findings(Cells([cell("weight_decay", 5e-3, 6.0, angle=0.01)]))
    assert {f.key: f for f in slow}["angle_wd0.005"].direction == -1


def test_exp_lr_is_compared_with_the_decay_it_stands_for():
    found = findings(Cells([cell("weight_decay", 5e-3, 6.0), cell("exp_lr", 5e-3, 30.0)]))
    assert {f.key: f for f in found}["exp_lr_vs_decay"].direction == 0
    assert "matched it within noise" in verdict(found).text


@pytest.mark.parametrize(("override", "field"), [
    ({"weight_decays": [-1.0]}, "weight_decays"),
    ({"steps": 10}, "steps"),
    ({"lr": 5.0}, "lr"),
])
def test_bad_parameters_are_rejected_with_the_field(override, field):
    check_rejected(ID, override, field)
