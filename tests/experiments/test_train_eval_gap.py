"""train_eval_gap at the smoke preset: contract, class-sorted batches, frozen fine-tuning,
findings and verdict."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from experiments import catalog
from experiments.questions.train_eval_gap.findings import findings, verdict
from experiments.questions.train_eval_gap.measure import class_sorted_order
from experiments.runner import Cell, Cells

from .result_checks import check_rejected, check_result

ID = "train_eval_gap"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("teg")
    catalog.get(ID).run_preset("smoke", out_dir=out, device="cpu")
    return out, check_result(out, ID)


def test_rows_are_the_contracts_conditions(result):
    _, data = result
    conds = {(r["condition"], r["momentum"]) for r in data["rows"]}
    assert {("iid", 0.1), ("class_sorted", 0.1), ("small_batch", 0.1),
            ("momentum", 0.001), ("momentum", 0.1), ("finetune_trainable", 0.1),
            ("finetune_frozen", 0.0)} == conds
    for row in data["rows"]:
        assert {"eval_acc", "train_mode_acc", "precise_acc", "stat_ratio"} <= set(row)


def test_class_sorted_batches_hold_one_or_two_classes_and_cover_each_epoch():
    y = torch.arange(10).repeat_interleave(40)  # 400 examples, 10 classes
    order = class_sorted_order(y, seed=0, batch=16, steps=50)
    assert order.shape == (50, 16)
    for batch in order[:25]:
        assert len(torch.unique(y[batch])) <= 2
    epoch = order[:25].flatten()
    assert len(torch.unique(epoch)) == len(epoch)  # no example twice within an epoch


def cell(cond, eval_acc, train_acc, precise=None, momentum=0.1):
    n = len(eval_acc)
    values = {"eval_acc": np.array(eval_acc), "train_mode_acc": np.array(train_acc),
              "precise_acc": np.array(precise if precise is not None else eval_acc),
              "as_trained_acc": np.array(train_acc), "stat_ratio": np.ones(n)}
    return Cell({"condition": cond, "momentum": momentum}, values, np.zeros(n, bool))


def spread(x):
    return [x - 0.02, x - 0.01, x, x + 0.01, x + 0.02]


P = {"batch_size": 64, "finetune_batch": 8}


def test_a_condition_that_opens_the_gap_is_named_and_its_fix_measured():
    cells = Cells([cell("iid", spread(0.6), spread(0.6)),
                   cell("momentum", spread(0.3), spread(0.6), spread(0.6), momentum=0.001)])
    found = findings(cells, P)
    v = verdict(found)
    assert "a running-average momentum of 0.001 opened a gap" in v.text
    assert "Recomputing the averages on the training set after training raised" in v.text


def test_no_gap_is_reported_as_none():
    cells = Cells([cell("iid", spread(0.6), spread(0.6)),
                   cell("small_batch", spread(0.5), spread(0.5))])
    v = verdict(findings(cells, P))
    assert v.text.startswith("In this run no condition opened a reliable gap")


def test_frozen_fine_tuning_verdict_follows_the_measured_direction():
    base = [cell("iid", spread(0.6), spread(0.6))]
    better = Cells(base + [cell("finetune_trainable", spread(0.3), spread(0.3)),
                           cell("finetune_frozen", spread(0.5), spread(0.5), momentum=0.0)])
    worse = Cells(base + [cell("finetune_trainable", spread(0.5), spread(0.5)),
                          cell("finetune_frozen", spread(0.3), spread(0.3), momentum=0.0)])
    assert "freeze batch norm: it did better" in verdict(findings(better, P)).text
    assert "letting batch norm train did better" in verdict(findings(worse, P)).text


@pytest.mark.parametrize(("override", "field"), [
    ({"conditions": ["iid", "magic"]}, "conditions"),
    ({"small_batch_size": 16}, "small_batch_size"),
    ({"bn_momentums": [0.0]}, "bn_momentums"),
])
def test_bad_parameters_are_rejected_with_the_field(override, field):
    check_rejected(ID, override, field)
