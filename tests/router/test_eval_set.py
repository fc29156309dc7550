"""The evaluation sets: well formed, and the router meets its accuracy targets on them.

eval_set.jsonl is the set the patterns were tuned on; holdout.jsonl was written afterwards and
is not tuned on, so its figures estimate accuracy on new text. Accuracy only: speed is measured
by `bnlab bench router`, not asserted here.
"""

from __future__ import annotations

from collections import Counter

import pytest

from experiments import catalog
from service.router.bench import EVAL_SET, HOLDOUT, evaluate, load


@pytest.fixture(scope="module")
def eval_items() -> list[dict]:
    return load(EVAL_SET)


@pytest.mark.parametrize("path", [EVAL_SET, HOLDOUT])
def test_sets_are_well_formed(path):
    items = load(path)
    ids = set(catalog.ids())
    for item in items:
        assert set(item) <= {"text", "expected", "kind", "params"}, item
        assert item["kind"] in ("single", "multi", "offtopic"), item
        assert isinstance(item["text"], str) and item["text"].strip(), item
        assert set(item["expected"]) <= ids, item
        if item["kind"] == "single":
            assert len(item["expected"]) == 1, item
        elif item["kind"] == "offtopic":
            assert item["expected"] == [], item
        else:
            assert item["expected"], item


def test_eval_set_is_large_and_covers_every_type(eval_items):
    assert len(eval_items) >= 150
    singles = Counter(i["expected"][0] for i in eval_items if i["kind"] == "single")
    for type_id in catalog.ids():
        assert singles[type_id] >= 8, type_id
    kinds = Counter(i["kind"] for i in eval_items)
    assert kinds["multi"] >= 15 and kinds["offtopic"] >= 15
    assert sum("<p>" in i["text"] for i in eval_items) >= 10  # Discourse HTML


def test_eval_set_meets_the_targets(eval_items):
    report = evaluate(eval_items)
    assert report.single_top1 >= 0.9, report.misses
    assert report.offtopic_rejection >= 0.9, report.misses
    assert report.split_precision >= 0.9, report.misses
    assert report.split_recall >= 0.9, report.misses
    assert report.params_read >= 0.9


def test_holdout_accuracy_has_not_regressed():
    # Looser than the targets: this set measures generalization and is not tuned on.
    report = evaluate(load(HOLDOUT))
    assert report.single_top1 >= 0.85, report.misses
    assert report.offtopic_rejection >= 0.85, report.misses
