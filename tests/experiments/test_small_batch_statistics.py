"""small_batch_statistics at the smoke preset: contract, findings, divergence, bad parameters."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import catalog
from experiments.questions.small_batch_statistics import not_run_text, training_text
from experiments.questions.small_batch_statistics.findings import findings, verdict
from experiments.questions.small_batch_statistics.spec import training_steps
from experiments.runner import Cell, Cells

from .result_checks import check_rejected, check_result

ID = "small_batch_statistics"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("sbs")
    catalog.get(ID).run_preset("smoke", out_dir=out, device="cpu",
                               overrides={"asked_batch_sizes": [16]})
    return out, check_result(out, ID)


def test_rows_cover_every_arm_and_batch_size_including_the_askers(result):
    _, data = result
    p = data["params"]
    sizes = set(p["batch_sizes"]) | {16}
    cells = {(r["arm"], r["batch_size"]) for r in data["rows"]}
    expected = {(a, b) for a in p["arms"] for b in sizes}
    expected |= {("precise_bn", b) for b in sizes}
    assert cells == expected
    for row in data["rows"]:
        if row["arm"] in ("groupnorm", "no_norm"):
            assert row["running_mean_err"] is None  # no running statistics to be wrong
        if row["arm"] in ("batchnorm", "ewa_forward", "batch_renorm"):
            assert row["running_std_err"] >= 0


def test_the_verdict_speaks_to_the_askers_batch_size(result):
    _, data = result
    assert data["verdict"]["text"].startswith(("No: at batch 16", "Not worth it: at batch 16",
                                               "At batch 16"))
    assert "ewa_forward_vs_batchnorm_b16" in data["verdict"]["findings"]
    assert "--set asked_batch_sizes=16" in data["reproduce"]


def test_min_steps_lengthens_only_the_batch_sizes_that_epochs_leave_short(result):
    _, data = result
    p = data["params"]
    n_train = data["provenance"]["dataset"]["n_train"]
    steps = {r["batch_size"]: r["steps"] for r in data["rows"]}
    for b, s in steps.items():
        assert s == max(p["epochs"] * (n_train // b), p["min_steps"])
    assert p["min_steps"] in steps.values()  # the smoke preset exercises the floor
    assert f"never for fewer than {p['min_steps']:,} steps" in data["summary_markdown"]


def test_training_steps_and_their_description():
    p = {"epochs": 6, "min_steps": 3000}
    assert training_steps(p, 4, 4000) == 6000  # epochs already give more
    assert training_steps(p, 32, 4000) == 3000  # lifted from 750
    assert training_steps({**p, "min_steps": 0}, 32, 4000) == 750
    text = training_text(p, [4, 32], {4: 6000, 32: 3000}, 4000)
    assert "batch 32 (24 epochs)" in text and "batch 4 (" not in text
    assert "6,000, 3,000" in text
    plain = training_text({**p, "min_steps": 0}, [4, 32], {4: 6000, 32: 750}, 4000)
    assert plain == "for 6 epochs, so smaller batches took more steps (6,000, 750)"


def test_arms_left_out_are_named():
    assert not_run_text(list(LABELS)) == ""
    assert not_run_text(["batchnorm", "ewa_forward", "no_norm"]) == (
        " Not run here: batch renorm, group norm.")


def test_quick_trains_batch_32_past_the_early_lead_of_running_averages():
    p = catalog.get(ID).resolve("quick")
    assert training_steps(p, 32, 4000) >= 3000 and p["seeds"] >= 3
    assert {"batchnorm", "ewa_forward", "no_norm"} <= set(p["arms"])


def test_figures_are_the_three_promised_key_figure_first(result):
    _, data = result
    assert [f["name"] for f in data["figures"]] == [
        "accuracy_vs_batch_size", "eval_vs_train_mode", "learning_curves_smallest_batch"]
    assert data["key_figure"] == "accuracy_vs_batch_size"


def test_a_diverging_run_names_the_diverged_arms_and_counts_every_seed(tmp_path):
    catalog.get(ID).run_preset("smoke", out_dir=tmp_path, device="cpu", overrides={
        "lr": 1.0, "lr_max": 1.0, "lr_rule": "constant", "batch_sizes": [4, 32]})
    data = check_result(tmp_path, ID)
    diverged = [r for r in data["rows"] if r["diverged"] > 0]
    assert diverged, "lr 1.0 without a schedule should make some arm diverge"
    for row in data["rows"]:
        assert row["n_seeds"] == data["params"]["seeds"]
    keys = {f["key"] for f in data["findings"]}
    for row in diverged:
        if row["arm"] != "precise_bn":
            assert f"diverged_{row['arm']}_b{row['batch_size']}" in keys
    compared = {f["a"] for f in data["findings"] if f["key"] in data["verdict"]["findings"]}
    compared |= {f["b"] for f in data["findings"] if f["key"] in data["verdict"]["findings"]}
    named = [f for f in data["findings"] if f["metric"] == "diverged" and f["a"] in compared]
    if named:
        assert "Diverged:" in data["answer"]
        for f in named:
            assert f["a"] in data["answer"]


# -- findings on synthetic cells -----------------------------------------------------------
LABELS = ("batchnorm", "ewa_forward", "batch_renorm", "groupnorm", "no_norm")


def synthetic(acc: dict[tuple[str, int], list[float]], dead: dict | None = None,
              growth: dict | None = None) -> Cells:
    cells = Cells()
    for (arm, b), values in acc.items():
        v = np.asarray(values, float)
        d = np.asarray((dead or {}).get((arm, b), [False] * len(v)))
        g = np.asarray((growth or {}).get((arm, b), [1.0] * len(v)), float)
        cells.add([Cell({"arm": arm, "batch_size": b},
                        {"test_acc": v, "train_mode_test_acc": v, "pre_norm_bias_growth": g},
                        d)])
    return cells


def five(mean: float, spread: float = 0.01) -> list[float]:
    return [mean + spread * k for k in (-2, -1, 0, 1, 2)]


def base(over: dict | None = None) -> dict:
    acc = {(a, b): five(0.6) for a in LABELS for b in (4, 32)}
    acc.update(over or {})
    return acc


def by_key(found):
    return {f.key: f for f in found}


def test_worse_at_normal_batch_says_no():
    cells = synthetic(base({("ewa_forward", 32): five(0.5)}))
    found = findings(cells, 4, 32, list(LABELS))
    v = verdict(found, 4, 32)
    assert by_key(found)["ewa_forward_vs_batchnorm_b32"].direction == -1
    assert v.text.startswith("No: at batch 32")


def test_a_tie_is_not_called_a_win():
    found = findings(synthetic(base()), 4, 32, list(LABELS))
    f = by_key(found)["ewa_forward_vs_batchnorm_b32"]
    assert f.direction == 0 and "did not differ reliably" in f.text
    assert verdict(found, 4, 32).text.startswith("Not worth it")


def test_a_win_at_small_batch_that_no_norm_also_gets_is_put_down_to_the_control():
    cells = synthetic(base({("ewa_forward", 4): five(0.7), ("no_norm", 4): five(0.7)}))
    text = verdict(findings(cells, 4, 32, list(LABELS)), 4, 32).text
    assert "so did no normalization" in text


def test_a_win_at_small_batch_beyond_the_control_is_a_win():
    cells = synthetic(base({("ewa_forward", 4): five(0.8), ("no_norm", 4): five(0.7)}))
    text = verdict(findings(cells, 4, 32, list(LABELS)), 4, 32).text
    assert "At batch 4 it beat batch norm." in text and "so did" not in text


def test_the_best_fix_is_recommended_only_when_it_beats_batch_norm():
    cells = synthetic(base({("groupnorm", 4): five(0.75), ("batch_renorm", 4): five(0.7)}))
    assert "use group norm instead" in verdict(findings(cells, 4, 32, list(LABELS)), 4, 32).text
    neither = verdict(findings(synthetic(base()), 4, 32, list(LABELS)), 4, 32).text
    assert "Neither batch renorm nor group norm beat batch norm reliably" in neither


def test_the_drift_mechanism_is_stated_only_when_drift_was_measured():
    grown = synthetic(base(), growth={("ewa_forward", 4): five(3.0, 0.1)})
    flat = synthetic(base())
    assert "kept pushing them" in by_key(findings(grown, 4, 32, list(LABELS)))[
        "bias_drift_b4"].text
    text = by_key(findings(flat, 4, 32, list(LABELS)))["bias_drift_b4"].text
    assert "kept pushing" not in text and "did not drift measurably" in text


def test_diverged_seeds_are_named_and_scored_not_dropped():
    dead = {("ewa_forward", 4): [True, True, True, False, False]}
    cells = synthetic(base(), dead=dead)
    found = by_key(findings(cells, 4, 32, list(LABELS)))
    assert "3 of 5 seeds" in found["diverged_ewa_forward_b4"].text
    assert found["ewa_forward_vs_batchnorm_b4"].n == 5
    assert "diverged in 3 of 5 seeds" in found["ewa_forward_vs_batchnorm_b4"].text


def test_one_seed_gives_no_claimed_difference():
    cells = synthetic({k: [0.9 if k[0] == "ewa_forward" else 0.5] for k in base()})
    f = by_key(findings(cells, 4, 32, list(LABELS)))["ewa_forward_vs_batchnorm_b32"]
    assert f.direction == 0 and "no confidence interval" in f.text


@pytest.mark.parametrize(("override", "field"), [
    ({"batch_sizes": [1]}, "batch_sizes"),
    ({"asked_batch_sizes": [1]}, "asked_batch_sizes"),
    ({"arms": ["batchnorm", "magic"]}, "arms"),
    ({"epochs": 0}, "epochs"),
    ({"min_steps": -1}, "min_steps"),
    ({"seeds": 100}, "seeds"),
    ({"nope": 1}, "nope"),
])
def test_bad_parameters_are_rejected_with_the_field(override, field):
    check_rejected(ID, override, field)
