"""deep_gradients: the growth estimator, the smoke run's contract, and the findings' branches
on synthetic cells."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import catalog
from experiments.questions.deep_gradients.findings import findings, verdict
from experiments.questions.deep_gradients.measure import add_cells, growth_per_layer
from experiments.runner import Cells
from experiments.writeup import compose_answer

from .result_checks import check_answer_text as check_answer
from .result_checks import check_rejected, check_result

ID = "deep_gradients"


def test_growth_is_the_per_layer_factor_toward_the_input():
    layers = np.arange(1, 11)
    norms = np.stack([3.0 * 1.25 ** -layers, 0.5 * 0.9 ** -layers])  # grows toward layer 1
    norms[:, 0] *= 40  # the first layer's own scale is left out of the fit
    np.testing.assert_allclose(growth_per_layer(norms), [1.25, 0.9])


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("dg")
    catalog.get(ID).run_preset("smoke", out_dir=out, device="cpu")
    return out, check_result(out, ID, figures=(2, 4))


def test_rows_per_layer_and_per_depth_and_phase(result):
    _, data = result
    p = data["params"]
    per_layer = [r for r in data["rows"] if r["layer"] is not None]
    assert {(r["arm"], r["depth"], r["layer"], r["phase"]) for r in per_layer} == {
        (a, d, k, ph) for a in p["arms"] for d in p["depths"] for k in range(1, d + 1)
        for ph in ("init", "trained")}
    assert all(r["grad_norm"] > 0 and r["n_seeds"] == p["seeds"] for r in per_layer)
    growth = [r for r in data["rows"] if r["layer"] is None]
    assert {(r["arm"], r["depth"], r["phase"]) for r in growth} == {
        (a, d, ph) for a in p["arms"] for d in p["depths"] for ph in ("init", "trained")}
    assert all(r["grad_growth_per_layer"] > 0 for r in growth)


def synthetic(rates: dict[str, float], trained_rate: float, depth: int = 16, seeds: int = 4
              ) -> Cells:
    rng = np.random.default_rng(2)
    cells = Cells()
    arms = list(rates)
    layers = np.arange(1, depth + 1)
    for phase in ("init", "trained"):
        norms = np.concatenate([
            np.stack([(trained_rate if phase == "trained" and arm == "batchnorm" else rate)
                      ** -layers * np.exp(rng.normal(0, 0.02, depth)) for _ in range(seeds)])
            for arm, rate in rates.items()])
        add_cells(cells, arms, depth, phase, norms, np.zeros(len(norms), bool), seeds)
    return cells


ARMS = {"batchnorm": 1.21, "no_norm": 1.0, "batchnorm_linear": 1.01, "batchnorm_eps": 1.15}


def answer_of(cells):
    found = findings(cells, [16], 128, 30)
    v = verdict(found)
    answer = compose_answer(v, found)
    check_answer(answer, v.text, [f.text for f in found])
    return v, answer, {f.key: f for f in found}


def test_explosion_is_reported_with_the_controls():
    v, answer, by = answer_of(synthetic(ARMS, 1.03))
    assert v.text.startswith("No: at initialisation, batch norm with ReLU makes the gradient "
                             "explode")
    assert "closer to flat" in v.text and "shrank the growth" in v.text
    assert by["batchnorm_growth"].direction == 1
    assert by["batchnorm_growth"].mean_a == pytest.approx(1.21, abs=0.01)
    assert "theory predicts 1.211" in by["batchnorm_growth"].text
    assert by["batchnorm_eps_vs_batchnorm_growth"].direction == -1
    assert "1.21" in answer


def test_flat_batch_norm_is_not_called_an_explosion():
    v, _, by = answer_of(synthetic({**ARMS, "batchnorm": 1.0}, 1.0))
    assert v.text.startswith("Not clearly")
    assert "explode" not in v.text and "shrank the growth" not in v.text
    assert by["batchnorm_growth"].direction == 0


@pytest.mark.parametrize(("override", "field"), [
    ({"arms": ["batchnorm", "magic"]}, "arms"),
    ({"depths": [2]}, "depths"),
    ({"width": 4}, "width"),
    ({"seeds": 100}, "seeds"),
    ({"nope": 1}, "nope"),
])
def test_bad_parameters_are_rejected_with_the_field(override, field):
    check_rejected(ID, override, field)
