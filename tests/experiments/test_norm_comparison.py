"""norm_comparison at the smoke preset: contract, findings and verdict, bad parameters."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import catalog
from experiments.errors import ParamError
from experiments.questions.norm_comparison import training_limit
from experiments.questions.norm_comparison.findings import findings, verdict
from experiments.runner import Cell, Cells

from .result_checks import check_rejected, check_result

ID = "norm_comparison"
ARMS = ("batchnorm", "layernorm", "groupnorm", "instancenorm", "no_norm")


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("nc")
    catalog.get(ID).run_preset("smoke", out_dir=out, device="cpu")
    return out, check_result(out, ID)


def test_rows_cover_every_arm_model_and_batch_size_and_the_contract_fields(result):
    _, data = result
    p = data["params"]
    cells = {(r["arm"], r["model"], r["batch_size"]) for r in data["rows"]}
    expected = {(a, m, b) for a in p["arms"] for m in p["models"] for b in p["batch_sizes"]
                if not (a == "instancenorm" and m == "mlp")}
    assert cells == expected
    for row in data["rows"]:
        assert {"test_acc", "train_loss", "diverged", "steps_to_target"} <= set(row)
    assert data["key_figure"] == "accuracy_vs_batch_size"
    assert "instance norm" in data["summary_markdown"] and "CNN only" in data[
        "summary_markdown"]


def synthetic(acc: dict[str, float], small_acc: dict[str, float] | None = None,
              model: str = "cnn", cells: Cells | None = None) -> Cells:
    cells = Cells() if cells is None else cells
    for batch, table in ((32, acc), (4, small_acc or acc)):
        for arm, mean in table.items():
            if model == "mlp" and arm == "instancenorm":
                continue
            v = np.array([mean - 0.02, mean - 0.01, mean, mean + 0.01, mean + 0.02])
            cells.add([Cell({"arm": arm, "model": model, "batch_size": batch},
                            {"test_acc": v}, np.zeros(5, bool))])
    return cells


def test_batch_norm_on_top_everywhere_is_called_a_sound_default():
    cells = synthetic({a: 0.8 if a == "batchnorm" else 0.7 for a in ARMS})
    v = verdict(findings(cells, ["cnn"], 4, 32), ["cnn"], 4, 32)
    assert "did worse than batch norm" in v.text and "sound default" in v.text


def test_a_norm_that_beats_batch_norm_at_small_batch_is_recommended_there():
    normal = {a: 0.8 for a in ARMS}
    small = {"batchnorm": 0.5, "groupnorm": 0.75, "layernorm": 0.6, "instancenorm": 0.45,
             "no_norm": 0.8}  # the control is never what gets recommended
    v = verdict(findings(synthetic(normal, small), ["cnn"], 4, 32), ["cnn"], 4, 32)
    assert "So at batch 4, use group norm or layer norm instead of batch norm." in v.text
    assert v.findings[0] == "no_norm_vs_batchnorm_cnn_b4"  # the headline: best of the winners
    assert "sound default" not in v.text


def test_batch_norm_beaten_only_by_the_control_is_not_called_a_sound_default():
    normal = {a: 0.8 for a in ARMS}
    small = {**normal, "no_norm": 0.9}
    v = verdict(findings(synthetic(normal, small), ["cnn"], 4, 32), ["cnn"], 4, 32)
    assert "no normalization beat batch norm" in v.text
    assert "sound default" not in v.text and " use " not in v.text


def test_ties_are_ties():
    v = verdict(findings(synthetic({a: 0.8 for a in ARMS}), ["cnn"], 4, 32), ["cnn"], 4, 32)
    assert "none of the other norms differed reliably from batch norm" in v.text


def test_a_second_network_where_batch_norm_holds_up_at_small_batch_is_named():
    normal = {a: 0.8 for a in ARMS}
    small = {**normal, "batchnorm": 0.5}
    cells = synthetic(normal, small, model="mlp")
    synthetic(normal, normal, model="cnn", cells=cells)
    v = verdict(findings(cells, ["mlp", "cnn"], 4, 32), ["mlp", "cnn"], 4, 32)
    assert v.text.startswith("At batch 4 on the MLP, layer norm, group norm and no "
                             "normalization beat batch norm; on the 1-D CNN, none beat it "
                             "reliably.")
    assert "So at batch 4 on the MLP, use" in v.text
    assert v.findings[0].endswith("_mlp_b4") and v.findings[-1].endswith("_cnn_b4")


def test_instance_norm_is_compared_with_group_norm_on_the_cnn():
    found = {f.key: f for f in findings(synthetic({**{a: 0.8 for a in ARMS},
                                                   "instancenorm": 0.6}), ["cnn"], 4, 32)}
    assert found["instancenorm_vs_groupnorm_cnn_b32"].direction == -1


def test_short_training_at_the_normal_batch_is_a_stated_limit():
    p = {"loss_target": 1.0}
    rows = [{"batch_size": 32, "train_loss": loss, "steps": 124} for loss in (0.9, 1.4)]
    rows.append({"batch_size": 2, "train_loss": 2.0, "steps": 2000})  # not the normal batch
    text = training_limit(p, rows, 32)
    assert "1 of 2 norm and network pairs" in text and "(124 steps)" in text
    assert training_limit(p, rows[:1], 32) == ""


def test_groups_must_divide_the_channels_before_any_run():
    with pytest.raises(ParamError) as err:
        catalog.get(ID).resolve("smoke", {"groups": 5})
    assert err.value.field == "groups"


@pytest.mark.parametrize(("override", "field"), [
    ({"arms": ["batchnorm", "magic"]}, "arms"),
    ({"models": ["rnn"]}, "models"),
    ({"batch_sizes": [1]}, "batch_sizes"),
    ({"seeds": 0}, "seeds"),
])
def test_bad_parameters_are_rejected_with_the_field(override, field):
    check_rejected(ID, override, field)
