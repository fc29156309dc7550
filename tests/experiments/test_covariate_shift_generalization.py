"""covariate_shift_generalization at the smoke preset (contract, consistency, bad parameters),
plus the pieces it relies on: the input shift and the noise-free last layer."""

from __future__ import annotations

import pytest
import torch

from experiments import augment, catalog, models, norms
from experiments.errors import ParamError
from experiments.questions import covariate_shift_generalization as csg

from .result_checks import check_rejected, check_result

ID = "covariate_shift_generalization"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("csg")
    rng_before = torch.get_rng_state()
    catalog.get(ID).run_preset("smoke", out_dir=out, device="cpu")
    assert torch.equal(torch.get_rng_state(), rng_before), "the run disturbed the caller's RNG"
    return out, check_result(out, ID)


def test_rows_cover_every_arm_and_level(result):
    _, data = result
    p = data["params"]
    cells = {(r["arm"], r["noise"], r["ghost_size"]) for r in data["rows"]}
    b = p["batch_size"]
    expected = {("batchnorm", 0.0, b), ("no_norm", 0.0, None)}
    expected |= {("noisy_batchnorm", n, b) for n in p["noise_levels"]}
    expected |= {("noisy_no_norm", n, None) for n in p["noise_levels"]}
    expected |= {("ghost_batchnorm", 0.0, g) for g in p["ghost_sizes"]}
    expected |= {("input_shift", n, b) for n in p["input_shift_levels"]}
    expected |= {("input_augment", n, b) for n in p["input_shift_levels"]}
    expected |= {("input_shift_no_norm", n, None) for n in p["input_shift_levels"]}
    assert set(p["arms"]) == set(csg.ARMS)
    assert cells == expected
    assert len(data["rows"]) == len(expected)


def test_numbers_are_consistent(result):
    _, data = result
    for row in data["rows"]:
        assert row["n_seeds"] == data["params"]["seeds"]
        for key in ("train_acc", "test_acc", "train_mode_train_acc", "shifted_test_acc"):
            assert 0.0 <= row[key] <= 1.0
        assert row["gap"] == pytest.approx(row["train_acc"] - row["test_acc"], abs=1e-6)
        assert 0.0 <= row["diverged"] <= 1.0
        if row["arm"] in ("batchnorm", "no_norm", "ghost_batchnorm"):
            assert row["noise"] == 0.0
        else:
            assert row["noise"] > 0.0


def test_summary_quotes_the_measured_numbers(result):
    _, data = result
    bn = next(r for r in data["rows"] if r["arm"] == "batchnorm")
    assert f"{bn['test_acc']:.2f}" in data["answer"]
    assert f"{bn['test_acc']:.2f}" in data["summary_markdown"]
    assert "every hidden layer but the last" in data["summary_markdown"]


def test_figures_are_the_three_promised(result):
    out, data = result
    assert [f["name"] for f in data["figures"]] == [
        "accuracy_vs_noise", "gap_vs_ghost_size", "activation_percentiles"]
    for fig in data["figures"]:
        assert (out / fig["file"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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
    """The summary's claim: in training, batch norm's batch statistics undo a gain and offset
    shared by a whole batch; without a norm the same shift changes the output."""
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
    csg.silence_last_layer(model)
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
def test_ghost_sizes_must_split_the_batch(tmp_path, ghost):
    q = catalog.get(ID)
    params = q.resolve("smoke", {"ghost_sizes": [8, ghost]})  # smoke batch size is 32
    with pytest.raises(ParamError) as err:
        q.run(params, "smoke", tmp_path, device="cpu")
    assert err.value.field == "ghost_sizes"
