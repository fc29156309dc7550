"""covariate_shift_generalization: the smoke run (contract v2, consistency, the answer's
limits), every finding function and the verdict on synthetic cells, bad parameters, and the
pieces it relies on (the input shift, the noise-free last layer)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from experiments import augment, catalog, models, norms
from experiments.errors import ParamError
from experiments.findings import Finding
from experiments.questions.covariate_shift_generalization import findings as fnd
from experiments.questions.covariate_shift_generalization import spec
from experiments.questions.covariate_shift_generalization.measure import silence_last_layer
from experiments.questions.covariate_shift_generalization.verdict import (
    verdict,
    why_values,
)
from experiments.runner import Cell, Cells, score_diverged
from experiments.writeup import ANSWER_WORDS, SENTENCE_WORDS, compose_answer, sentences, words

from .result_checks import PNG_MAGIC, PROVENANCE, check_rejected, check_row

ID = "covariate_shift_generalization"
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("csg")
    rng_before = torch.get_rng_state()
    catalog.get(ID).run_preset("smoke", out_dir=out, device="cpu")
    assert torch.equal(torch.get_rng_state(), rng_before), "the run disturbed the caller's RNG"
    return out, json.loads((out / "result.json").read_text())


def test_result_is_schema_2_with_findings_verdict_and_reproduce(result):
    out, data = result
    assert data["schema"] == 2 and data["question_type"] == ID and data["preset"] == "smoke"
    assert PROVENANCE <= set(data["provenance"])
    keys = {f["key"] for f in data["findings"]}
    assert data["verdict"]["text"] and set(data["verdict"]["findings"]) <= keys
    for f in data["findings"]:
        assert f["text"] and f["direction"] in (-1, 0, 1) and 0 <= f["importance"] <= 1
    assert data["reproduce"] == f"bnlab run {ID} --preset smoke"
    assert data["summary_markdown"].rstrip().endswith(f"`{data['reproduce']}`")
    assert data["answer"].startswith(data["verdict"]["text"])
    for row in data["rows"]:
        check_row(row)
    for fig in data["figures"]:
        assert (out / fig["file"]).read_bytes()[:8] == PNG_MAGIC
    assert data["key_figure"] == "accuracy_by_arm"


def test_rows_cover_every_cell(result):
    _, data = result
    p = data["params"]
    b = p["batch_size"]
    got = {(r["arm"], r["noise"], r["ghost_size"]) for r in data["rows"]}
    expected = {("batchnorm", 0.0, b), ("no_norm", 0.0, None),
                ("sample_noise_batchnorm", 0.0, b)}
    expected |= {(a, n, b if a == "noisy_batchnorm" else None)
                 for a in spec.NOISY for n in p["noise_levels"]}
    expected |= {("ghost_batchnorm", 0.0, g) for g in p["ghost_sizes"]}
    expected |= {(a, n, None if a == "input_shift_no_norm" else b)
                 for a in spec.INPUT for n in p["input_shift_levels"]}
    assert set(p["arms"]) == set(spec.ARMS)
    assert got == expected and len(data["rows"]) == len(expected)
    for row in data["rows"]:
        assert row["n_seeds"] == p["seeds"] and 0.0 <= row["diverged"] <= 1.0
        assert row["gap"] == pytest.approx(row["train_acc"] - row["test_acc"], abs=1e-6)


def test_every_number_in_the_answer_comes_from_a_finding(result):
    _, data = result
    quoted = set(NUMBER.findall(" ".join(f["text"] for f in data["findings"])))
    assert set(NUMBER.findall(data["answer"])) <= quoted
    assert NUMBER.findall(data["answer"]), "the answer quotes no measured number"


def test_answer_is_short_and_plain(result):
    _, data = result
    answer = data["answer"]
    assert words(answer) <= ANSWER_WORDS
    assert all(words(s) <= SENTENCE_WORDS for s in sentences(answer)), answer
    for symbol in ("BN", "sigma", "mu_", "n=", "g="):
        assert symbol not in answer


def test_prose_takes_sizes_from_the_data(result):
    _, data = result
    summary = data["summary_markdown"]
    n_test = data["provenance"]["dataset"]["n_test"]
    assert n_test != 1000
    assert f"{n_test:,} test examples" in summary
    assert "1,000 test" not in summary
    assert "every hidden layer but the last" in summary
    assert "by construction" in summary  # the per-batch input shift is a control


def test_figures_are_the_four_promised(result):
    _, data = result
    assert [f["name"] for f in data["figures"]] == [
        "accuracy_by_arm", "accuracy_vs_noise", "gap_vs_ghost_size", "activation_percentiles"]


# -- synthetic cells --------------------------------------------------------------------------
METRICS = ("train_acc", "test_acc", "gap", "train_mode_train_acc", "shifted_test_acc")
BATCH = 128


def synthetic(n_seeds=5, changes=None, dead=None) -> Cells:
    """A full plan's cells, every metric 0.5 plus a little paired seed noise; `changes` maps
    (arm, noise or ghost, metric) to per-seed deltas, `dead` (arm, noise) to diverged seeds."""
    p = full(n_seeds)
    seed_noise = np.linspace(-0.02, 0.02, n_seeds)
    cells = []
    for plan in spec.plan(p):
        at = plan.ghost_size if plan.arm == "ghost_batchnorm" else plan.noise
        values = {m: 0.5 + seed_noise + np.asarray((changes or {}).get((plan.arm, at, m), 0.0))
                  for m in METRICS}
        diverged = np.zeros(n_seeds, bool)
        diverged[list((dead or {}).get((plan.arm, at), ()))] = True
        cells.append(Cell(plan.labels(BATCH), score_diverged(values, diverged, 0.1), diverged))
    return Cells(cells)


def full(n_seeds: int = 5) -> dict:
    return spec.SCHEMA.resolve("full", {"noise_levels": [1.0], "ghost_sizes": [16],
                                        "seeds": n_seeds})


# (finding function, its arguments, the arm it tests at its noise / ghost size, the metric)
CASES = [
    (fnd.noise_vs_bn, (1.0,), ("noisy_batchnorm", 1.0), "test_acc"),
    (fnd.shift_beyond_sample_noise, (1.0,), ("noisy_batchnorm", 1.0), "test_acc"),
    (fnd.sample_noise_vs_bn, (0.1,), ("sample_noise_batchnorm", 0.0), "test_acc"),
    (fnd.noise_gap, (1.0,), ("noisy_batchnorm", 1.0), "gap"),
    (fnd.ghost_vs_bn, (16, BATCH), ("ghost_batchnorm", 16), "test_acc"),
    (fnd.augment_shifted, (1.0,), ("input_augment", 1.0), "shifted_test_acc"),
    (fnd.augment_clean, (1.0,), ("input_augment", 1.0), "test_acc"),
    (fnd.batch_shift_no_norm, (1.0,), ("input_shift_no_norm", 1.0), "shifted_test_acc"),
    (fnd.bn_vs_no_norm, (), ("batchnorm", 0.0), "test_acc"),
]
SHIFTS = {1: [0.1, 0.12, 0.09, 0.11, 0.1], -1: [-0.1, -0.12, -0.09, -0.11, -0.1],
          0: [0.05, -0.05, 0.04, -0.04, 0.0]}


@pytest.mark.parametrize(("fn", "args", "arm", "metric"), CASES,
                         ids=[c[0].__name__ for c in CASES])
@pytest.mark.parametrize("direction", [1, -1, 0])
def test_finding_direction_follows_the_data(fn, args, arm, metric, direction):
    f = fn(synthetic(changes={(*arm, metric): SHIFTS[direction]}), *args)
    assert isinstance(f, Finding) and f.direction == direction and f.n == 5
    assert f.text.count("95% confidence") == 1 and "{" not in f.text
    lo, hi = f.diff_ci95
    assert (lo > 0) if direction == 1 else (hi < 0) if direction == -1 else (lo <= 0 <= hi)


@pytest.mark.parametrize(("fn", "args", "arm", "metric"), CASES,
                         ids=[c[0].__name__ for c in CASES])
def test_finding_counts_diverged_seeds_and_one_seed(fn, args, arm, metric):
    f = fn(synthetic(dead={arm: [0, 1]}), *args)
    # A diverged seed stays in accuracy comparisons (at chance); a gap it does not have.
    assert f.n == (3 if metric == "gap" else 5)
    assert "diverged in 2 of 5 seeds" in f.text
    single = fn(synthetic(n_seeds=1), *args)
    assert single.direction == 0 and "one seed" in single.text


def test_finding_is_absent_without_its_arms():
    cells = Cells([c for c in synthetic() if c.labels["arm"] != "batchnorm"])
    assert fnd.noise_vs_bn(cells, 1.0) is None and fnd.augment_shifted(cells, 1.0) is None
    assert fnd.santurkar(cells, 1.0) is None


@pytest.mark.parametrize(("direction", "words_"), [(1, "Unlike in Santurkar"),
                                                   (-1, "As in Santurkar"),
                                                   (0, "about the same")])
def test_santurkar_wording_follows_its_direction(direction, words_):
    # The noise costs batch norm its `as trained` accuracy; without a norm it costs nothing.
    cost = np.array(SHIFTS[direction])
    cells = synthetic(changes={("noisy_batchnorm", 1.0, "train_mode_train_acc"): -cost - 0.2,
                               ("noisy_no_norm", 1.0, "train_mode_train_acc"): -0.2})
    f = fnd.santurkar(cells, 1.0)
    assert f.direction == direction and words_ in f.text
    why = why_values([f])["santurkar_here"]
    assert ("does not bear that out" in why) == (direction == 1)
    assert ("agrees" in why) == (direction == -1)


def test_santurkar_counts_seeds_where_either_network_diverged():
    f = fnd.santurkar(synthetic(dead={("noisy_batchnorm", 1.0): [3]}), 1.0)
    assert f.n == 5
    assert "Batch norm with or without the noise diverged in 1 of 5 seeds." in f.text
    single = fnd.santurkar(synthetic(n_seeds=1), 1.0)
    assert single.direction == 0 and "one seed" in single.text


def test_regularizer_sentence_only_when_the_gap_shrank():
    for direction in (1, 0, -1):
        gap = fnd.noise_gap(synthetic(changes={("noisy_batchnorm", 1.0, "gap"):
                                               SHIFTS[direction]}), 1.0)
        assert ("regularizer" in gap.text) == (direction == -1)
        assert bool(why_values([gap])["regularizer_here"]) == (direction == -1)


def made(key: str, direction: int) -> Finding:
    return Finding(key=key, text=f"{key} text.", direction=direction)


@pytest.mark.parametrize(("noise", "aug", "gap", "clean", "opening", "regular"), [
    (0, 1, 0, -1, "Not the way you mean:", False),
    (0, 1, 0, 0, "Not the way you mean:", False),
    (1, 1, -1, -1, "Partly, not the way you mean:", True),
    (1, 1, 0, 1, "Partly, not the way you mean:", False),
    (1, 0, -1, -1, "Partly:", True),
    (-1, 0, 0, 0, "No, not in this run:", False),
    (0, -1, -1, -1, "No, not in this run:", False),
])
def test_verdict_follows_the_findings(noise, aug, gap, clean, opening, regular):
    found = [made("noise_1_vs_bn", noise), made("augment_1_shifted", aug),
             made("noise_1_gap", gap), made("augment_1_clean", clean)]
    v = verdict(found)
    costly = aug == 1 and clean == -1
    assert v.text.startswith(opening)
    assert v.findings == ("noise_1_vs_bn", "augment_1_shifted") + (
        ("augment_1_clean",) if costly else ())
    assert ("regularizer" in v.text) == regular
    assert ("what helps is data augmentation" in v.text) == (aug == 1 and noise != 1)
    assert ("at some cost on unchanged test data" in v.text) == costly
    assert "cancels any input shift a whole batch shares" in v.text
    assert not NUMBER.findall(v.text)


@pytest.mark.parametrize(("shift", "separated"), [(None, False), (1, False), (0, True),
                                                 (-1, True)])
def test_verdict_credits_the_shift_only_when_it_beat_per_example_noise(shift, separated):
    found = [made("noise_1_vs_bn", 1), made("augment_1_shifted", 0)]
    if shift is not None:
        found.append(made("shift_1_vs_sample_noise", shift))
    text = verdict(found).text
    assert ("its shifts added nothing measurable" in text) == separated
    assert ("random output shifts helped" in text) == (not separated)


def test_verdict_without_its_arms_says_it_cannot_answer():
    assert "cannot answer" in verdict([made("bn_vs_no_norm", 1)]).text


def test_answer_names_diverged_arms_with_fractions():
    cells = synthetic(dead={("noisy_batchnorm", 1.0): [0, 2]})
    found = fnd.findings(cells, full())
    answer = compose_answer(verdict(found), found)
    assert "batch norm with shifting noise of level 1 in 2 of 5 seeds" in answer
    assert words(answer) <= ANSWER_WORDS


# -- parameters and building blocks ----------------------------------------------------------
def test_per_example_noise_arm_is_dropped_without_per_example_noise():
    p = spec.SCHEMA.resolve("smoke", {"sample_noise": 0.0})
    assert "sample_noise_batchnorm" not in {c.arm for c in spec.plan(p)}
    assert "sample_noise_batchnorm" in {c.arm for c in spec.plan(spec.SCHEMA.resolve("smoke"))}


def test_same_norm_arms_share_one_module():
    p = spec.SCHEMA.resolve("quick")
    arms = spec.merged([spec.norm_arm(c, p) for c in spec.plan(p)])
    assert len(arms) < len(spec.plan(p))
    assert sum(a.members for a in arms) == p["seeds"] * len(spec.plan(p))


def test_input_shift_leaves_other_members_untouched():
    torch.manual_seed(0)
    x = torch.randn(6, 8, 5)  # (M, B, F)
    shift = augment.InputShift(6, [augment.ShiftArm(slice(1, 3), 2.0, "batch"),
                                   augment.ShiftArm(slice(4, 5), 2.0, "sample")])
    y = shift(x)
    for member in (0, 3, 5):
        assert torch.equal(y[member], x[member])
    for member in (1, 2, 4):
        assert not torch.allclose(y[member], x[member])
    # Batch mode: one gain and offset for the whole batch; sample mode: one per sample.
    gain = (y[1, :, 1] - y[1, :, 0]) / (x[1, :, 1] - x[1, :, 0])  # (B,)
    assert torch.allclose(gain, gain[0].expand_as(gain), atol=1e-4)
    assert 1.0 <= gain[0] <= 3.0
    gain = (y[4, :, 1] - y[4, :, 0]) / (x[4, :, 1] - x[4, :, 0])
    assert gain.std() > 1e-2


def test_input_shift_rejects_bad_settings():
    with pytest.raises(ParamError) as err:
        augment.InputShift(4, [augment.ShiftArm(slice(0, 2), 1.0, "pixel")])
    assert err.value.field == "input_shift_mode"
    with pytest.raises(ParamError) as err:
        augment.InputShift(4, [augment.ShiftArm(slice(0, 2), -1.0)])
    assert err.value.field == "input_shift_levels"


def test_batch_norm_removes_a_shift_shared_by_the_batch():
    """What the verdict states as construction: in training, batch norm's batch statistics
    undo a gain and offset shared by a whole batch; without a norm the shift changes the
    output."""
    torch.manual_seed(0)
    x = torch.randn(4, 64, 40)
    shift = augment.InputShift(4, [augment.ShiftArm(slice(0, 4), 1.0, "batch")])
    for norm, changed in (("batchnorm", False), ("none", True)):
        model = models.build(models.ModelSpec(width=32, depth=2, norm=norm), range(4), 40, 10)
        model.train()
        with norms.train_mode_eval(model, None), torch.no_grad():
            diff = (model(shift(x)) - model(x)).abs().max().item()
        assert (diff > 1e-2) == changed, (norm, diff)


def test_noise_stays_out_of_the_last_hidden_layer():
    arms = [models.Arm("noisy_batchnorm", 2, {"level": 3.0}),
            models.Arm("noisy_none", 2, {"level": 3.0})]
    model = models.build(models.ModelSpec(width=16, depth=3), range(4), 40, 10, arms=arms)
    silence_last_layer(model)
    flags = [[n.noise_enabled for n in block.norm.arms] for block in model.blocks]
    assert flags == [[True, True], [True, True], [False, False]]


@pytest.mark.parametrize(("override", "field"), [
    ({"noise_levels": [0.0]}, "noise_levels"),
    ({"ghost_sizes": [1]}, "ghost_sizes"),
    ({"arms": ["batchnorm", "magic"]}, "arms"),
    ({"depth": 1}, "depth"),
    ({"seeds": 100}, "seeds"),
    ({"nope": 1}, "nope"),
])
def test_bad_parameters_are_rejected_with_the_field(override, field):
    check_rejected(ID, override, field)


@pytest.mark.parametrize("ghost", [12, 32])
def test_ghost_sizes_that_do_not_split_the_batch_are_refused_before_any_run(ghost):
    with pytest.raises(ParamError) as err:
        catalog.get(ID).resolve("smoke", {"ghost_sizes": [8, ghost]})  # smoke batch is 32
    assert err.value.field == "ghost_sizes"


@pytest.mark.parametrize(("batch", "ghosts", "arms_kept"),
                         [(8, [4], True), (48, [16], True), (24, [12], True), (13, [], False)])
def test_ghost_sizes_left_to_the_preset_follow_the_asked_batch_size(batch, ghosts, arms_kept):
    """quick's ghost size is 16: a batch of 8 gets the largest size dividing it instead, a
    batch of 48 keeps 16, and a prime batch, which no ghost batch divides, runs without
    the ghost arm, unless the asker named the arms."""
    q = catalog.get(ID)
    params = q.resolve("quick", {"batch_size": batch})
    assert params["ghost_sizes"] == ghosts
    assert ("ghost_batchnorm" in params["arms"]) == arms_kept
    if not arms_kept:
        with pytest.raises(ParamError, match="no ghost batch size divides"):
            q.resolve("quick", {"batch_size": batch, "arms": ["batchnorm", "ghost_batchnorm"]})
