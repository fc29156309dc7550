"""small_batch_statistics at the smoke preset: contract, consistency, and bad parameters."""

from __future__ import annotations

import pytest

from experiments import catalog

from .result_checks import check_rejected, check_result

ID = "small_batch_statistics"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("sbs")
    catalog.get(ID).run_preset("smoke", out_dir=out, device="cpu")
    return out, check_result(out, ID)


def test_rows_cover_every_arm_and_batch_size(result):
    _, data = result
    p = data["params"]
    cells = {(r["arm"], r["batch_size"]) for r in data["rows"]}
    expected = {(a, b) for a in p["arms"] for b in p["batch_sizes"]}
    expected |= {("precise_bn", b) for b in p["batch_sizes"]}
    assert cells == expected
    for row in data["rows"]:
        assert row["n_seeds"] == p["seeds"]
        assert 0.0 <= row["diverged"] <= 1.0
        if row["arm"] in ("groupnorm", "no_norm"):
            assert row["running_mean_err"] is None  # no running statistics to be wrong
        if row["arm"] in ("batchnorm", "ewa_forward", "batch_renorm"):
            assert row["running_std_err"] >= 0


def test_summary_quotes_the_measured_numbers(result):
    _, data = result
    bn = next(r for r in data["rows"] if r["arm"] == "batchnorm"
              and r["batch_size"] == min(data["params"]["batch_sizes"]))
    assert f"{bn['test_acc']:.2f}" in data["summary_markdown"]
    assert f"{bn['test_acc']:.2f}" in data["answer"]


def test_figures_are_the_three_promised(result):
    _, data = result
    assert [f["name"] for f in data["figures"]] == [
        "accuracy_vs_batch_size", "eval_vs_train_mode", "learning_curves_smallest_batch"]


@pytest.mark.parametrize(("override", "field"), [
    ({"batch_sizes": [1]}, "batch_sizes"),
    ({"arms": ["batchnorm", "magic"]}, "arms"),
    ({"epochs": 0}, "epochs"),
    ({"seeds": 100}, "seeds"),
    ({"nope": 1}, "nope"),
])
def test_bad_parameters_are_rejected_with_the_field(override, field):
    check_rejected(ID, override, field)
