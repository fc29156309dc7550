"""dropout_interaction at the smoke preset: contract, per-member dropout, findings, verdict."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from experiments import catalog
from experiments.questions.dropout_interaction.findings import findings, verdict
from experiments.questions.dropout_interaction.measure import MemberDropout
from experiments.runner import Cell, Cells

from .result_checks import check_rejected, check_result

ID = "dropout_interaction"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("do")
    catalog.get(ID).run_preset("smoke", out_dir=out, device="cpu")
    return out, check_result(out, ID)


def test_rows_cover_placements_rates_and_widths(result):
    _, data = result
    cells = {(r["placement"], r["p"], r["width"]) for r in data["rows"]}
    assert cells == {("none", 0.0, 32), ("before_bn", 0.5, 32),
                     ("before_classifier", 0.5, 32)}
    for row in data["rows"]:
        assert {"test_acc", "train_mode_acc", "var_ratio"} <= set(row)


def test_member_dropout_drops_at_each_members_rate_and_keeps_the_mean():
    torch.manual_seed(0)
    drop = MemberDropout(torch.tensor([0.0, 0.5]))
    x = torch.ones(2, 4000, 8)
    y = drop(x)
    assert torch.equal(y[0], x[0])
    assert (y[1] == 0).float().mean().item() == pytest.approx(0.5, abs=0.02)
    assert y[1].mean().item() == pytest.approx(1.0, abs=0.05)
    drop.eval()
    assert torch.equal(drop(x), x)


def cell(placement, p, acc, train_acc=None, ratio=1.0, width=256):
    n = 5
    j = np.linspace(-0.01, 0.01, n)
    return Cell({"placement": placement, "p": p, "width": width},
                {"test_acc": acc + j, "train_mode_acc": (train_acc or acc) + j,
                 "var_ratio": ratio + j}, np.zeros(n, bool))


def test_a_cost_before_batch_norm_recommends_the_classifier_placement():
    cells = Cells([cell("none", 0.0, 0.66), cell("before_bn", 0.5, 0.43, 0.47, ratio=1.5),
                   cell("before_classifier", 0.5, 0.64)])
    v = verdict(findings(cells, [256], [0.5]), 256, [0.5])
    assert v.text.startswith("Use it, but after the last batch norm")
    assert "variance shift" in v.text


def test_no_variance_shift_claimed_without_one():
    cells = Cells([cell("none", 0.0, 0.66), cell("before_bn", 0.5, 0.43, ratio=1.0),
                   cell("before_classifier", 0.5, 0.64)])
    assert "variance shift" not in verdict(findings(cells, [256], [0.5]), 256, [0.5]).text


def test_no_difference_is_said_so():
    cells = Cells([cell("before_bn", 0.3, 0.6), cell("before_classifier", 0.3, 0.6)])
    v = verdict(findings(cells, [256], [0.3]), 256, [0.3])
    assert v.text.startswith("Where dropout goes made no reliable difference")


def test_width_shrinking_the_cost_is_measured():
    cells = Cells([cell("before_bn", 0.5, 0.40), cell("before_classifier", 0.5, 0.64),
                   cell("before_bn", 0.5, 0.60, width=1024),
                   cell("before_classifier", 0.5, 0.65, width=1024)])
    found = {f.key: f for f in findings(cells, [256, 1024], [0.5])}
    assert found["width_cost"].direction == -1


@pytest.mark.parametrize(("override", "field"), [
    ({"dropout_rates": [1.0]}, "dropout_rates"),
    ({"placements": ["after_bn"]}, "placements"),
    ({"widths": [4]}, "widths"),
])
def test_bad_parameters_are_rejected_with_the_field(override, field):
    check_rejected(ID, override, field)
