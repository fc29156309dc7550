"""gamma_beta_undo: the undo distance, each finding on synthetic cells (every direction,
diverged seeds, one seed), the verdict, and the smoke run's result and answer."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from experiments import catalog, probes
from experiments.questions.gamma_beta_undo import findings as F
from experiments.questions.gamma_beta_undo import prose
from experiments.questions.gamma_beta_undo.metrics import fold, undo_distance
from experiments.questions.gamma_beta_undo.spec import PROBE_SAMPLES
from experiments.runner import Cell, Cells, score_diverged
from experiments.writeup import ANSWER_WORDS, SENTENCE_WORDS, compose_answer, sentences, words

from .result_checks import KEYS, PNG_MAGIC, check_rejected, check_row

ID = "gamma_beta_undo"
FIGURES = ["undo_distance", "gamma_vs_sigma", "input_shift", "drift", "ics_landscape"]
BASE = np.array([1.0, 1.1, 0.9, 1.05, 0.95])  # five seeds with a little spread
NOISE = np.array([0.3, -0.2, 0.25, -0.35, 0.1])  # differences that straddle zero


def make_cells(values: dict[str, dict[str, np.ndarray]], diverged: dict[str, list] | None = None,
               opt: str = "sgd") -> Cells:
    """Whole-network cells per arm from {arm: {metric: per-seed values}}; diverged seeds are
    scored as the runner scores them."""
    out = []
    for arm, metrics in values.items():
        n = len(next(iter(metrics.values())))
        dead = np.asarray((diverged or {}).get(arm, [False] * n), bool)
        out.append(Cell({"arm": arm, "optimizer": opt, "layer": "all"},
                        score_diverged(metrics, dead, 0.1), dead))
    return Cells(out)


def bn_pair(metric_a: str, a: np.ndarray, metric_b: str, b: np.ndarray) -> Cells:
    return make_cells({"batchnorm": {metric_a: a, metric_b: b}})


def arms_pair(arm_a: str, arm_b: str, metric: str, a: np.ndarray, b: np.ndarray,
              diverged: dict | None = None) -> Cells:
    return make_cells({arm_a: {metric: a}, arm_b: {metric: b}}, diverged)


# finding function, how to build its cells from (a, b) values, ratio scale or difference
CASES = {
    "undo_own": (lambda c: F.undo_own(c, "sgd"),
                 lambda a, b: bn_pair("undo_distance", a, "undo_distance_frozen", b), False),
    "scale_moved": (lambda c: F.scale_moved(c, "sgd"),
                    lambda a, b: bn_pair("sigma_B_fold", a, "gamma_fold", b), True),
    "input_moves": (lambda c: F.input_moves(c, "sgd"),
                    lambda a, b: arms_pair("batchnorm", "no_norm", "input_shift", a, b), True),
    "bias_drift": (lambda c: F.bias_drift(c, "sgd"),
                   lambda a, b: arms_pair("batchnorm_detached", "batchnorm",
                                          "pre_norm_bias_growth", a, b), True),
    "accuracy": (lambda c: F.accuracy(c, "batchnorm_detached", "batchnorm", "sgd", 0.4),
                 lambda a, b: arms_pair("batchnorm_detached", "batchnorm", "test_acc", a / 2,
                                        b / 2), False),
    "ics": (lambda c: F.santurkar(c, "sgd", "ics_l2"),
            lambda a, b: arms_pair("batchnorm", "no_norm", "ics_l2", a, b), True),
    "smoothness": (lambda c: F.santurkar(c, "sgd", "beta_smoothness"),
                   lambda a, b: arms_pair("batchnorm", "no_norm", "beta_smoothness", a, b),
                   True),
}
# a side against BASE for each direction: factors for ratios, offsets for differences
SHIFTED = {1: (BASE * 3.0, BASE + 0.4), -1: (BASE / 3.0, BASE - 0.4),
           0: (BASE * np.exp(NOISE), BASE + NOISE / 2)}
# words only the text of that direction has
WORDING = {
    "undo_own": {1: "further than", -1: "closer than", 0: "the same within noise"},
    "scale_moved": {1: "did not keep up", -1: "more than the batch", 0: "not change by"},
    "input_moves": {1: "did not steady", -1: "set its mean and spread", 0: "did not move"},
    "bias_drift": {1: "kept pushing", -1: "no drift showed", 0: "did not grow reliably"},
    "accuracy": {1: "higher", -1: "lower", 0: "did not differ reliably"},
    "ics": {1: "as Santurkar", -1: "unlike Santurkar", 0: "in line with"},
    "smoothness": {1: "rougher", -1: "smoother, as", 0: "does not show"},
}


@pytest.mark.parametrize("direction", [1, -1, 0])
@pytest.mark.parametrize("name", list(CASES))
def test_each_finding_words_each_direction_from_its_comparison(name, direction):
    fn, build, ratio = CASES[name]
    a = SHIFTED[direction][0 if ratio else 1]
    found = fn(build(a, BASE.copy()))
    assert found.direction == direction
    assert found.n == len(BASE)
    for d, phrase in WORDING[name].items():
        assert (phrase in found.text) == (d == direction), (d, found.text)
    assert found.scale == ("ratio" if ratio else "difference")


@pytest.mark.parametrize("name", list(CASES))
def test_each_finding_with_one_seed_claims_no_difference(name):
    fn, build, ratio = CASES[name]
    found = fn(build(BASE[:1] * 3, BASE[:1]))
    assert found.direction == 0 and found.n == 1
    assert "no confidence interval" in found.text
    assert not any(p in found.text for d, p in WORDING[name].items() if d)


def test_a_missing_arm_gives_no_finding():
    cells = make_cells({"batchnorm": {"input_shift": BASE}})
    assert F.input_moves(cells, "sgd") is None and F.bias_drift(cells, "sgd") is None
    assert F.undo_own(make_cells({"no_norm": {"test_acc": BASE}}), "sgd") is None


def test_diverged_seeds_are_counted_and_named():
    dead = {"batchnorm": [True, False, False, False, False]}
    acc = arms_pair("batchnorm", "no_norm", "test_acc", BASE / 2, BASE / 3, dead)
    found = F.accuracy(acc, "batchnorm", "no_norm", "sgd", 0.4)
    assert found.n == 5  # scored at chance, not dropped
    assert "Batch norm diverged in 1 of 5 seeds." in found.text
    moves = F.input_moves(arms_pair("batchnorm", "no_norm", "input_shift", BASE / 3, BASE,
                                    dead), "sgd")
    assert moves.n == 4 and "diverged in 1 of 5 seeds" in moves.text  # no movement when dead
    cells = make_cells({"batchnorm": {"test_acc": BASE / 2}, "no_norm": {"test_acc": BASE}},
                       dead)
    (div,) = [f for f in F.findings(cells, ["batchnorm", "no_norm"], ["sgd"])
              if f.metric == "diverged"]
    assert div.key == "diverged_batchnorm_sgd" and "in 1 of 5 seeds" in div.text


@pytest.mark.parametrize(("values", "direction", "phrase"), [
    (BASE, 1, "beyond the 0.25"), (BASE / 10, -1, "passed their input through"),
    (np.array([0.0, 0.6, 0.1, 0.5, 0.05]), 0, "not reliably beyond"),
    (BASE[:1], 0, "not reliably beyond")])
def test_undo_end_against_the_tolerance(values, direction, phrase):
    found = F.undo_end(make_cells({"batchnorm": {"undo_distance": values}}), "sgd")
    assert found.direction == direction and phrase in found.text
    assert found.n == len(values)


def full_cells(end: np.ndarray, moves: np.ndarray, dead: list | None = None) -> Cells:
    metrics = {"undo_distance": end, "undo_distance_frozen": end + 0.05,
               "input_shift": moves, "test_acc": BASE / 2}
    none = {"input_shift": BASE, "test_acc": BASE / 3}
    return make_cells({"batchnorm": metrics, "no_norm": none},
                      {"batchnorm": dead} if dead else None)


@pytest.mark.parametrize(("end", "moves", "opening", "instead"), [
    (BASE, BASE / 4, "No — gradient descent did not", True),
    (BASE, BASE * np.exp(NOISE), "No — gradient descent did not", False),
    (BASE / 10, BASE / 4, "In this run, yes", False),
    (np.array([0.0, 0.6, 0.1, 0.5, 0.05]), BASE * 4, "This run cannot tell", False)])
def test_verdict_follows_the_measured_directions(end, moves, opening, instead):
    found = F.findings(full_cells(end, moves), ["batchnorm", "no_norm"], ["sgd"])
    v = F.verdict(found, ["sgd"])
    assert v.text.startswith(opening)
    assert ("instead" in v.text) == instead
    assert v.findings[:2] == ("undo_own_sgd", "input_moves_sgd")
    assert not re.search(r"\d", v.text)  # the numbers are in the findings


def test_verdict_without_batch_norm_says_it_cannot_answer():
    found = F.findings(make_cells({"no_norm": {"test_acc": BASE}}), ["no_norm"], ["sgd"])
    assert "no batch-norm arm" in F.verdict(found, ["sgd"]).text


def test_answer_names_a_diverged_arm_with_its_fraction():
    found = F.findings(full_cells(BASE, BASE / 4, [False, False, True, False, False]),
                       ["batchnorm", "no_norm"], ["sgd"])
    v = F.verdict(found, ["sgd"])
    assert "diverged_batchnorm_sgd" in v.findings
    answer = compose_answer(v, found)
    assert "batch norm in 1 of 5 seeds" in answer and words(answer) <= ANSWER_WORDS


def test_why_states_a_mechanism_only_when_its_comparison_shows_it():
    shown = F.findings(full_cells(BASE, BASE / 4), ["batchnorm", "no_norm"], ["sgd"])
    hidden = F.findings(full_cells(BASE, BASE * np.exp(NOISE)), ["batchnorm", "no_norm"],
                        ["sgd"])
    assert "This run fits the reparameterisation" in prose.why_values(shown, "sgd")["reparam"]
    assert "does not show" in prose.why_values(hidden, "sgd")["reparam"]
    assert "This run fits" not in prose.why_values(hidden, "sgd")["reparam"]
    assert "here sigma_B changed by a larger" not in prose.why_values(hidden, "sgd")["scale"]
    assert "did drift" not in prose.why_values(hidden, "sgd")["drift"]  # no detached arm
    drift = make_cells({"batchnorm_detached": {"pre_norm_bias_growth": BASE * 3, "test_acc": BASE},
                        "batchnorm": {"pre_norm_bias_growth": BASE, "test_acc": BASE}})
    assert "did drift" in prose.why_values(F.findings(drift, ["batchnorm_detached", "batchnorm"],
                                                      ["sgd"]), "sgd")["drift"]


def test_undo_distance_is_zero_at_the_undo_point_and_symmetric_in_scale():
    sigma, mu = np.array([0.5, 2.0, 7.0]), np.array([-1.0, 0.0, 3.0])
    np.testing.assert_allclose(undo_distance(sigma, mu, mu, sigma), 0.0, atol=1e-12)
    np.testing.assert_allclose(undo_distance(2 * sigma, mu, mu, sigma),
                               undo_distance(sigma / 2, mu, mu, sigma))
    # gamma / sigma_B going from 2.5 to 0.47 is barely a move toward undoing: log units
    before, after = (undo_distance(np.array([r]), 0.0, 0.0, np.array([1.0])) for r in (2.5, 0.47))
    assert after[0] == pytest.approx(np.log(1 / 0.47)) and after[0] > 0.8 * before[0]
    np.testing.assert_allclose(undo_distance(sigma, mu + sigma, mu, sigma), 1.0)
    np.testing.assert_allclose(fold(np.array([2.0, 0.5]), np.array([1.0, 1.0])), [2.0, 2.0])


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("gbu")
    catalog.get(ID).run_preset("smoke", out_dir=out, device="cpu")
    return out, json.loads((out / "result.json").read_text())


def test_result_is_schema_2_with_findings_verdict_and_reproduce(result):
    out, data = result
    assert set(data) == KEYS | {"verdict", "findings", "reproduce", "key_figure"}
    assert data["schema"] == 2 and data["preset"] == "smoke"
    keys = {f["key"] for f in data["findings"]}
    assert data["verdict"]["findings"] and set(data["verdict"]["findings"]) <= keys
    for f in data["findings"]:
        assert f["text"] and f["direction"] in (-1, 0, 1) and 0 <= f["importance"] <= 1
    assert data["reproduce"] == "bnlab run gamma_beta_undo --preset smoke"
    assert data["summary_markdown"].rstrip().endswith(f"`{data['reproduce']}`")
    assert [f["name"] for f in data["figures"]] == FIGURES and data["key_figure"] == FIGURES[0]
    for fig in data["figures"]:
        assert (out / fig["file"]).read_bytes()[:8] == PNG_MAGIC
    for row in data["rows"]:
        check_row(row)
    assert {r["key"] for r in data["references"]} >= {"ioffe2015", "goodfellow2016",
                                                      "santurkar2018", "laarhoven2017",
                                                      "frankle2021"}


def test_answer_is_short_verdict_first_and_quotes_only_its_findings(result):
    _, data = result
    answer = data["answer"]
    assert answer.startswith(data["verdict"]["text"])
    assert words(answer) <= ANSWER_WORDS
    assert all(words(s) <= SENTENCE_WORDS for s in sentences(answer))
    # after the verdict, the answer is whole finding texts and the divergence line, nothing else
    rest, used = answer[len(data["verdict"]["text"]):], []
    rest = rest.replace("95% confidence interval (CI)", "95% CI", 1)  # spelled out once
    for f in data["findings"]:
        if f["text"] in rest:
            rest, used = rest.replace(f["text"], ""), [*used, f["text"]]
    rest, tail = re.subn(r"Diverged: .*? scored as chance accuracy\.", "", rest)
    assert not rest.strip() and used
    if tail:  # its numbers are those of the divergence findings
        used += [f["text"] for f in data["findings"] if f["metric"] == "diverged"]
    assert not re.search(r"\d", data["verdict"]["text"])
    for number in re.findall(r"-?\d[\d,]*(?:\.\d+)?", answer):
        assert any(number in text for text in used), number
    assert "gamma and beta" in data["verdict"]["text"].split("(")[1]  # named, then used


def test_rows_cover_every_arm_optimizer_and_layer(result):
    _, data = result
    p = data["params"]
    cells = sorted(str((r["arm"], r["optimizer"], r["layer"])) for r in data["rows"])
    expected = sorted(str((a, o, layer)) for a in p["arms"] for o in p["optimizers"]
                      for layer in [*range(p["depth"]), "all"])
    assert cells == expected
    for row in data["rows"]:
        assert row["n_seeds"] == p["seeds"] and 0.0 <= row["diverged"] <= 1.0
        if row["arm"] == "no_norm":
            assert row["undo_distance"] is None and row["gamma_fold"] is None
        else:
            assert row["undo_distance"] >= 0 and row["sigma_B_fold"] >= 1
        if row["layer"] == 0:
            assert row["ics_l2"] is None  # nothing below the first layer


def test_the_bias_before_batch_norm_gets_no_gradient(result):
    # An identity, not a statistical outcome: the mean subtraction cancels the bias exactly,
    # so with the statistics inside the gradient SGD never moves it, whatever the seed. (Adam
    # divides the round-off left in that gradient by its own size, so it is not checked.)
    _, data = result
    for row in data["rows"]:
        if row["arm"] == "batchnorm" and row["optimizer"] == "sgd":
            assert row["pre_norm_bias_growth"] == pytest.approx(1.0, abs=1e-3)


def test_prose_sizes_come_from_the_run(result):
    _, data = result
    p, summary = data["params"], data["summary_markdown"]
    n_train = data["provenance"]["dataset"]["n_train"]
    probe = probes.probe_size(PROBE_SAMPLES, n_train, p["batch_size"])
    assert f"first {probe:,} training samples" in summary
    assert f"{data['provenance']['dataset']['n_test']:,} test examples" in summary
    assert probes.probe_size(512, 400, 32) == 384 and probes.probe_size(512, 5000, 100) == 500


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
