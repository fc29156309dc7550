"""The findings layer: comparisons phrased by their measured direction, numbers filled from
the comparison, divergence named, answers composed within their limits."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import catalog
from experiments.findings import Finding, Side, Verdict, compare, divergence, estimate, fill
from experiments.runner import Cell, Cells, score_diverged, split_cells
from experiments.writeup import (
    ANSWER_WORDS,
    compose_answer,
    reproduce_command,
    sentences,
)


def side(label, values, dead=None):
    return Side(label, np.asarray(values, float), None if dead is None else np.asarray(dead))


def test_compare_phrases_each_direction_from_the_interval():
    up = compare("k", "test accuracy", side("A", [0.8, 0.82, 0.81]), side("B", [0.7, 0.71, 0.7]))
    assert up.direction == 1 and "higher" in up.text and "0.81" in up.text
    down = compare("k", "test accuracy", side("B", [0.7, 0.71, 0.7]),
                   side("A", [0.8, 0.82, 0.81]))
    assert down.direction == -1 and "lower" in down.text
    assert down.diff < 0 and down.diff_ci95[1] < 0
    tie = compare("k", "test accuracy", side("A", [0.7, 0.8, 0.6]), side("B", [0.72, 0.7, 0.7]))
    assert tie.direction == 0 and "did not differ reliably" in tie.text


def test_compare_fills_custom_wording_and_context_but_never_a_missing_value():
    f = compare("k", "acc", side("A", [1.0, 1.1, 1.2]), side("B", [0.0, 0.1, 0.2]),
                texts={1: "At {where}, {a} won by {size}."}, context={"where": "batch 8"})
    assert f.text == "At batch 8, A won by 1.00."
    with pytest.raises(KeyError):
        compare("k", "acc", side("A", [1.0, 1.1, 1.2]), side("B", [0.0, 0.1, 0.2]),
                texts={1: "{nothing}"})


def test_ratio_comparisons_are_of_geometric_means():
    f = compare("k", "growth", side("A", [2.0, 8.0]), side("B", [1.0, 1.0]), ratio=True)
    assert f.scale == "ratio"
    assert f.mean_a == pytest.approx(4.0)  # geometric, not the arithmetic 5.0
    assert f.diff == pytest.approx(4.0)


def test_one_seed_is_never_a_difference():
    f = compare("k", "acc", side("A", [0.9]), side("B", [0.1]))
    assert f.direction == 0 and "no confidence interval" in f.text


def test_unpaired_comparison():
    f = compare("k", "acc", side("A", [0.9, 0.91, 0.92]), side("B", [0.1, 0.2, 0.15, 0.12]),
                paired=False)
    assert f.direction == 1


def test_estimate_against_a_threshold():
    texts = {1: "{a} above {threshold}: {mean}.", 0: "{a} unclear.", -1: "{a} below."}
    assert estimate("k", "m", side("A", [2.0, 2.1, 2.2]), texts, threshold=1).direction == 1
    assert estimate("k", "m", side("A", [0.1, 0.2, 0.15]), texts, threshold=1).direction == -1
    assert estimate("k", "m", side("A", [0.0, 2.0, 1.0]), texts, threshold=1).direction == 0


def test_divergence_is_named_with_its_fraction_or_absent():
    assert divergence("d", side("A", [0.1, 0.5], [False, False]), "chance") is None
    f = divergence("d", side("A", [0.1, 0.1, 0.5], [True, True, False]), "chance accuracy")
    assert "2 of 3 seeds" in f.text and f.mean_a == pytest.approx(2 / 3)
    note = compare("k", "acc", side("A", [0.1, 0.1, 0.5], [True, True, False]),
                   side("B", [0.5, 0.5, 0.5]))
    assert "A diverged in 2 of 3 seeds." in note.text


def test_diverged_accuracies_score_at_chance_and_the_rest_stay_missing():
    out = score_diverged({"test_acc": [np.nan, 0.8], "final_train_loss": [0.4, 0.3]},
                         np.array([True, False]), chance=0.1)
    assert out["test_acc"].tolist() == [0.1, 0.8]
    assert np.isnan(out["final_train_loss"][0])
    (cell,) = split_cells([{"arm": "x"}], {"test_acc": np.array([np.nan, 0.8]),
                                           "final_train_loss": np.array([np.nan, 0.3])},
                          np.array([True, False]), 2, 0.1)
    row = cell.row()
    assert row["n_seeds"] == 2 and row["diverged"] == 0.5
    assert row["test_acc"] == pytest.approx(0.45) and row["final_train_loss_n"] == 1


def test_cells_lookup():
    cells = Cells([Cell({"arm": "a", "b": 1}, {}, np.zeros(0, bool))])
    assert cells.has(arm="a") and not cells.has(arm="z")
    with pytest.raises(KeyError):
        cells.get(arm="z")


def finding(key, words, importance=0.5, **kw):
    return Finding(key, " ".join(["word"] * (words - 1)) + " end.", importance, **kw)


def test_answer_is_verdict_first_and_within_its_word_budget():
    v = Verdict("No, it did not.", ("a",))
    found = [finding("a", 30), finding("b", 30, 0.9), finding("c", 40, 0.8)]
    answer = compose_answer(v, found)
    assert answer.startswith("No, it did not.")
    assert len(answer.split()) <= ANSWER_WORDS
    assert answer.count("end.") == 2  # a (named by the verdict) and b; c does not fit


def test_answer_names_the_divergence_of_a_compared_arm():
    v = Verdict("No.", ("cmp",))
    found = [Finding("cmp", "A beat B.", a="A", b="B"),
             Finding("dA", "A diverged.", metric="diverged", a="A", values={"k": 2, "n": 5}),
             Finding("dC", "C diverged.", metric="diverged", a="C", values={"k": 1, "n": 5})]
    answer = compose_answer(v, found)
    assert "Diverged: A in 2 of 5 seeds" in answer and "C in" not in answer


def test_sentences_do_not_split_decimals():
    assert sentences("It was 0.41 against 0.37. Then it ended.") == [
        "It was 0.41 against 0.37.", "Then it ended."]


def test_fill_formats_numbers_one_way():
    assert fill("{x} and {n}", {"n": 1200}, {"x": 0.12345}, 2) == "0.12 and 1,200"


def test_the_reproduce_command_resolves_to_the_same_parameters():
    qt = catalog.get("small_batch_statistics")
    params = qt.resolve("smoke", {"batch_sizes": [4, 8], "lr": 0.02, "asked_batch_sizes": [32]})
    cmd = reproduce_command(qt.id, "smoke", params, qt.schema)
    sets = dict(part.split("=", 1) for part in cmd.split(" --set ")[1:])
    assert qt.resolve("smoke", sets) == params


def test_negative_zero_is_printed_as_zero():
    from experiments.findings import fmt_number

    assert fmt_number(-0.001) == "0.00" and fmt_number(-0.01) == "-0.01"


def test_a_long_first_support_does_not_keep_a_shorter_one_out():
    v = Verdict("No.", ())
    found = [finding("long", 85, 0.9), finding("short", 10, 0.5)]
    answer = compose_answer(v, found)
    assert "end." in answer and len(answer.split()) <= ANSWER_WORDS
    assert answer.count("end.") == 1  # the short one


def test_the_first_ci_is_spelled_out():
    v = Verdict("No.", ("a",))
    answer = compose_answer(v, [Finding("a", "X (95% CI 1 to 2). Y (95% CI 3 to 4).", 0.5)])
    assert "95% confidence interval (CI) 1 to 2" in answer and "95% CI 3 to 4" in answer


def test_the_seeded_global_generator_is_reproducible_and_restores_the_callers():
    import torch

    from experiments.runner import seeded_global_rng

    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    with seeded_global_rng(torch.device("cpu")):
        first = torch.rand(3)
    with seeded_global_rng(torch.device("cpu")):
        second = torch.rand(3)
    assert torch.equal(first, second)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_runs_on_two_threads_draw_what_each_would_alone():
    """Local workers are threads sharing torch's one global generator."""
    import threading

    import torch

    from experiments.runner import seeded_global_rng

    def draws(seed, out, start=None):
        if start:
            start.wait()
        with seeded_global_rng(torch.device("cpu"), seed):
            for _ in range(300):
                out.append(float(torch.rand(())))
                threading.Event().wait(0.0001)  # let the other thread in, were it allowed

    alone = {s: [] for s in (1, 2)}
    for s, out in alone.items():
        draws(s, out)
    together, start = {s: [] for s in (1, 2)}, threading.Barrier(2)
    threads = [threading.Thread(target=draws, args=(s, out, start))
               for s, out in together.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert together == alone


def test_figures_leave_matplotlib_global_state_alone(tmp_path):
    """Runs on several threads make figures at once: making and saving one neither registers
    it with pyplot nor swaps the global settings, either of which another thread would see."""
    import matplotlib
    import matplotlib.pyplot as plt
    import torch

    from experiments import figures
    from experiments.result import RunContext

    before = dict(matplotlib.rcParams)
    fig, axes = figures.subplots(2)
    assert plt.get_fignums() == []
    assert dict(matplotlib.rcParams) == before
    axes[0, 0].plot([0, 1], [1, 0], label="a")
    axes[0, 0].legend()
    entry = figures.save(fig, RunContext({}, "smoke", tmp_path, torch.device("cpu")), "f", "c")
    assert (tmp_path / entry.file).stat().st_size > 0
    assert dict(matplotlib.rcParams) == before and plt.get_fignums() == []
    assert matplotlib.rcParams["font.size"] == figures.STYLE["font.size"]


def test_a_resolved_interval_is_printed_with_digits_enough_to_exclude_zero():
    from experiments.findings import Side, compare, estimate

    base = np.array([0.50, 0.52, 0.49, 0.51, 0.50, 0.53])
    lower = base - np.array([0.004, 0.03, 0.02, 0.035, 0.01, 0.006])
    f = compare("k", "test accuracy", Side("a", lower), Side("b", base))
    assert f.direction == -1
    lo, hi = f.diff_ci95
    assert min(abs(lo), abs(hi)) < 0.005  # at two decimals one end would print as 0.00
    assert "CI 0.00 to" not in f.text and "to 0.00" not in f.text
    unresolved = compare("k", "test accuracy", Side("a", base + [0.01, -0.01] * 3),
                         Side("b", base))
    assert unresolved.direction == 0 and "CI -0.01 to 0.01" in unresolved.text
    e = estimate("e", "gap", Side("a", [0.004, 0.006, 0.005, 0.0045]),
                 {1: "{a} {mean} ({lo} to {hi})", -1: "", 0: ""})
    assert e.direction == 1 and not e.text.endswith("(0.00 to 0.01)")


def test_the_printed_difference_is_the_difference_of_the_printed_means():
    from experiments.findings import Side, compare

    a = np.array([0.601, 0.603, 0.602, 0.6025, 0.6015, 0.603, 0.6013])
    b = a + np.array([0.02, 0.025, 0.022, 0.024, 0.023, 0.021, 0.026])
    # At two decimals: 0.60 against 0.63 (means 0.602, 0.625), yet "0.02 lower".
    text = compare("k", "test accuracy", Side("x", a), Side("y", b)).text
    assert "0.602 test accuracy against 0.625 for y, 0.023 lower" in text
    plain = compare("k", "test accuracy", Side("x", a - 0.1), Side("y", a + 0.2)).text
    assert "0.50 test accuracy against 0.80 for y, 0.30 lower" in plain  # agrees at two
    # A large difference keeps two decimals though its last digit is one off.
    big = compare("k", "test accuracy", Side("x", np.array([0.3253] * 3) + [0.01, 0, -0.01]),
                  Side("y", np.array([0.1727] * 3) + [0.0, 0.01, -0.01])).text
    assert "0.33 test accuracy against 0.17 for y, 0.15 higher" in big
