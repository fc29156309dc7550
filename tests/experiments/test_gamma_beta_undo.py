"""gamma_beta_undo at the smoke preset: contract, consistency, figures and bad parameters."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import catalog
from experiments.questions.gamma_beta_undo import undo_gap

from .result_checks import PNG_MAGIC, check_rejected, check_result

ID = "gamma_beta_undo"
FIGURES = ["gamma_vs_sigma", "undo_gap", "drift", "input_shift", "ics_landscape"]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("gbu")
    catalog.get(ID).run_preset("smoke", out_dir=out, device="cpu")
    return out, check_result(out, ID)


def _rows(data, layer=None):
    return [r for r in data["rows"] if layer is None or (r["layer"] == "all") == (layer == "all")]


def test_rows_cover_every_arm_optimizer_and_layer(result):
    _, data = result
    p = data["params"]
    cells = [(r["arm"], r["optimizer"], r["layer"]) for r in data["rows"]]
    expected = {(a, o, layer) for a in p["arms"] for o in p["optimizers"]
                for layer in [*range(p["depth"]), "all"]}
    assert sorted(map(str, cells)) == sorted(map(str, expected))  # each cell exactly once
    for row in data["rows"]:
        assert row["n_seeds"] == p["seeds"]
        for key in ("undo_gap", "gamma_sigma_corr", "ics_l2", "ics_cosine",
                    "pre_norm_bias_growth", "pre_norm_weight_growth"):
            if row["layer"] != "all":
                assert key in row and f"{key}_ci95" in row
    for row in _rows(data, "all"):
        assert {"test_acc", "test_acc_ci95", "diverged"} <= set(row)
        assert 0.0 <= row["diverged"] <= 1.0


def test_numbers_are_consistent(result):
    _, data = result
    for row in data["rows"]:
        for key, value in row.items():
            if value is None or key.endswith("_ci95"):
                continue
            if key.endswith("growth") or key in ("beta_smoothness", "loss_variation",
                                                 "grad_predictiveness", "ics_l2",
                                                 "input_shift", "undo_gap"):
                assert value >= 0, f"{key}={value} in {row['arm']}"
            if key.endswith("growth"):
                assert value > 0
            if key.endswith("corr") or key == "ics_cosine":
                assert -1 - 1e-9 <= value <= 1 + 1e-9, f"{key}={value}"
        if row["layer"] == 0:
            assert row["ics_l2"] is None  # nothing below the first layer
        if row["arm"] == "no_norm" and row["layer"] != "all":
            assert row["undo_gap"] is None and row["gamma_sigma_corr"] is None
        if row["arm"] != "no_norm" and row["layer"] != "all":
            assert row["undo_gap"] is not None and row["sigma_B_end"] > 0


def test_the_bias_before_batch_norm_gets_no_gradient(result):
    # An identity, not a statistical outcome: the mean subtraction cancels the bias exactly,
    # so with the statistics inside the gradient SGD never moves it, whatever the seed. (Adam
    # divides the round-off left in that gradient by its own size, so it is not checked.)
    _, data = result
    for row in data["rows"]:
        if row["arm"] == "batchnorm" and row["optimizer"] == "sgd":
            assert row["pre_norm_bias_growth"] == pytest.approx(1.0, abs=1e-3)


def test_answer_and_summary_quote_the_measured_numbers(result):
    _, data = result
    assert data["answer"].startswith("Backprop could in principle cancel batch norm")
    bn = next(r for r in _rows(data, "all") if r["arm"] == "batchnorm"
              and r["optimizer"] == "sgd")
    summary = data["summary_markdown"]
    assert f"BN {bn['test_acc']:.2f}" in summary
    gaps = [r["undo_gap"] for r in data["rows"] if r["arm"] == "batchnorm"
            and r["optimizer"] == "sgd" and r["layer"] != "all"]
    assert f"{np.mean(gaps):.2f} away from undoing the norm" in data["answer"]
    for heading in ("### Evidence", "### Why", "### Limits"):
        assert heading in summary
    assert {r["key"] for r in data["references"]} >= {"ioffe2015", "goodfellow2016",
                                                      "santurkar2018", "laarhoven2017",
                                                      "frankle2021"}


def test_figures_are_the_promised_pngs(result):
    out, data = result
    assert [f["name"] for f in data["figures"]] == FIGURES
    for fig in data["figures"]:
        path = out / fig["file"]
        assert path.exists() and path.read_bytes()[:8] == PNG_MAGIC


def test_undo_gap_is_zero_exactly_at_the_undo_point():
    sigma, mu = np.array([0.5, 2.0, 7.0]), np.array([-1.0, 0.0, 3.0])
    np.testing.assert_allclose(undo_gap(sigma, mu, mu, sigma), 0.0)
    np.testing.assert_allclose(undo_gap(np.ones(3), np.zeros(3), mu, sigma),
                               np.abs(1 / sigma - 1) + np.abs(mu) / sigma)


@pytest.mark.parametrize(("override", "field"), [
    ({"arms": ["batchnorm", "magic"]}, "arms"),
    ({"optimizers": ["rmsprop"]}, "optimizers"),
    ({"depth": 1}, "depth"),
    ({"steps": 0}, "steps"),
    ({"landscape_steps": [0.0]}, "landscape_steps"),
    ({"seeds": 100}, "seeds"),
    ({"nope": 1}, "nope"),
])
def test_bad_parameters_are_rejected_with_the_field(override, field):
    check_rejected(ID, override, field)
