"""bias_redundancy: the smoke run's contract, the twin models, the gradient probe, and the
findings' branches on synthetic cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from experiments import catalog, models, probes
from experiments.questions.bias_redundancy.findings import findings, verdict
from experiments.runner import Cell, Cells
from experiments.writeup import compose_answer

from .result_checks import check_answer_text as check_answer
from .result_checks import check_rejected, check_result

ID = "bias_redundancy"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("br")
    catalog.get(ID).run_preset("smoke", out_dir=out, device="cpu")
    return out, check_result(out, ID, figures=(2, 4))


def test_rows_per_arm_and_optimizer_and_per_pair(result):
    _, data = result
    p = data["params"]
    arms = [r for r in data["rows"] if "pair" not in r]
    assert {(r["arm"], r["optimizer"]) for r in arms} == {
        (a, o) for a in ("bn_bias", "bn_no_bias", "no_norm_bias", "no_norm_no_bias")
        for o in p["optimizers"]}
    for r in arms:
        assert {"bias_grad_ratio", "bias_drift", "test_acc", "n_seeds"} <= set(r)
        if r["arm"].endswith("no_bias"):
            assert r["bias_grad_ratio"] is None and r["bias_drift"] is None
        elif r["arm"] == "bn_bias":
            assert r["bias_grad_ratio"] < 1e-5
        else:
            assert r["bias_grad_ratio"] > 1e-3
    pairs = [r for r in data["rows"] if "pair" in r]
    assert {(r["pair"], r["optimizer"]) for r in pairs} == {
        (q, o) for q in ("bn", "no_norm") for o in p["optimizers"]}
    assert {r["arm"] for r in pairs} == {"bn_bias_vs_bn_no_bias",
                                         "no_norm_bias_vs_no_norm_no_bias"}
    by = {(r["pair"], r["optimizer"]): r["max_loss_diff"] for r in pairs}
    for o in p["optimizers"]:
        assert by[("bn", o)] < by[("no_norm", o)]


def twins(norm: str):
    spec = dict(kind="mlp", width=16, depth=2, norm=norm)
    with_bias = models.build(models.ModelSpec(**spec, bias=True), [0, 1], 40, 10)
    without = models.build(models.ModelSpec(**spec, bias=False), [0, 1], 40, 10)
    models.copy_shared_parameters(with_bias, without)
    return with_bias, without


def test_twins_share_weights_and_batch_norm_ignores_the_bias():
    x = torch.randn(2, 32, 40)
    y = torch.randint(0, 10, (2, 32))
    with_bias, without = twins("batchnorm")
    assert torch.equal(with_bias.blocks[1].layer.weight, without.blocks[1].layer.weight)
    torch.testing.assert_close(with_bias(x), without(x), atol=1e-5, rtol=1e-5)
    g = probes.gradient_norms(with_bias, x, y)
    assert (g["bias_grad_norm"] < 1e-6 * g["weight_grad_norm"]).all()
    assert np.isnan(probes.gradient_norms(without, x, y)["bias_grad_norm"]).all()
    plain, _ = twins("none")
    g = probes.gradient_norms(plain, x, y)
    assert (g["bias_grad_norm"] > 1e-3 * g["weight_grad_norm"]).all()


def synthetic(bn_ratio: float, bn_loss_diff: float, bn_acc_gap: float = 0.0,
              adam_drift: float = 0.05, seeds: int = 5) -> Cells:
    rng = np.random.default_rng(1)
    cells = Cells()

    def jitter(v: float) -> np.ndarray:
        return v * np.exp(rng.normal(0, 0.1, seeds))

    for opt in ("sgd", "adam"):
        acc = 0.6 + rng.normal(0, 0.02, seeds)
        arms = {"bn_bias": (bn_ratio, 1e-9 if opt == "sgd" else adam_drift, acc + bn_acc_gap),
                "bn_no_bias": (np.nan, np.nan, acc + rng.normal(0, 0.002, seeds)),
                "no_norm_bias": (0.5, 0.3, acc - 0.1), "no_norm_no_bias": (np.nan, np.nan,
                                                                         acc - 0.12)}
        for arm, (ratio, drift, a) in arms.items():
            cells.add([Cell({"arm": arm, "optimizer": opt},
                            {"bias_grad_ratio": jitter(ratio), "bias_drift": jitter(drift),
                             "test_acc": a}, np.zeros(seeds, bool))])
        for pair, diff in (("bn", bn_loss_diff), ("no_norm", 0.2)):
            cells.add([Cell({"pair": pair, "optimizer": opt},
                            {"max_loss_diff": jitter(diff),
                             "steps_matched": np.full(seeds, 100.0 if diff > 1e-4 else 600)},
                            np.zeros(seeds, bool), extra={"steps": 600})])
    return cells


def answer_of(cells):
    found = findings(cells, ["sgd", "adam"])
    v = verdict(found, ["sgd", "adam"])
    answer = compose_answer(v, found)
    check_answer(answer, v.text, [f.text for f in found])
    return v, answer, {f.key: f for f in found}


def test_inert_bias_changes_nothing():
    v, answer, by = answer_of(synthetic(1e-8, 1e-7))
    assert v.text.startswith("Because batch norm subtracts the batch mean")
    assert "changed nothing" in v.text
    assert "Without batch norm the bias does change training" in v.text
    assert "Under Adam the useless bias still wanders, harmlessly" in v.text
    assert by["bn_bias_gradient"].direction == -1
    assert "matched_steps_bn_sgd" not in by


def test_separating_twins_fall_back_to_accuracy():
    v, _, by = answer_of(synthetic(1e-8, 1e-2))
    assert "did not change test accuracy" in v.text
    assert by["trajectory_bn_sgd"].direction == 1
    assert "first 100 steps" in by["matched_steps_bn_sgd"].text


def test_a_real_bias_gradient_is_not_called_round_off():
    v, _, by = answer_of(synthetic(1e-2, 1e-2, bn_acc_gap=0.05))
    assert v.text.startswith("In this run the bias before batch norm was not clearly inert")
    assert by["bn_bias_gradient"].direction == 1


def test_adam_that_does_not_move_the_bias_is_not_said_to_wander():
    v, _, by = answer_of(synthetic(1e-8, 1e-7, adam_drift=1e-6))
    assert "wanders" not in v.text
    assert by["bias_drift_bn_adam"].direction == -1


@pytest.mark.parametrize(("override", "field"), [
    ({"optimizers": ["lbfgs"]}, "optimizers"),
    ({"steps": 1}, "steps"),
    ({"sgd_lr": 0}, "sgd_lr"),
    ({"seeds": 100}, "seeds"),
    ({"nope": 1}, "nope"),
])
def test_bad_parameters_are_rejected_with_the_field(override, field):
    check_rejected(ID, override, field)
