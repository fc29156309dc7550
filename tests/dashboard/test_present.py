"""Result presentation and comparison: rows as mean [CI] cells with n, v2 verdict and findings,
and v1 results that have neither."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from service.dashboard.comparison import CompareError, compare, parse_ids
from service.dashboard.present import result_view, rows_table
from tests.service.conftest import sample_result

V2 = {
    "schema": 2,
    "verdict": {"text": "No — at batch 4 running averages lose.", "findings": ["ewa_small"]},
    "findings": [
        {"key": "minor", "text": "A minor point.", "metric": "test_acc", "a": "x", "b": "y",
         "mean_a": 0.5, "mean_b": 0.5, "diff": 0.0, "diff_ci95": [-0.1, 0.1], "n": 2,
         "direction": 0, "importance": 0.9},
        {"key": "ewa_small", "text": "Running averages trail batch norm.", "metric": "test_acc",
         "a": "running averages", "b": "batch norm", "mean_a": 0.25, "mean_b": 0.5,
         "diff": -0.25, "diff_ci95": [-0.35, -0.15], "n": 2, "direction": -1,
         "importance": 0.2},
    ],
}


def test_rows_table_puts_identity_first_and_ci_in_cells():
    table = rows_table(sample_result()["rows"])
    assert table.identity == ["arm", "batch_size", "note"]
    assert table.metrics == ["test_acc"]
    assert table.header == ["arm", "batch_size", "note", "test_acc", "n"]
    first = table.rows[0]
    assert [c.text for c in first] == ["batchnorm", "4", "–", "0.5", "2"]
    assert first[3].ci == "[0.4, 0.6]" and first[3].sort == 0.5


def test_rows_are_read_by_kind_not_key_order():
    # Rows from other writers (an older result, a hand-made one) may order keys any way.
    row = {"arm": "bn", "n_seeds": 2, "test_acc": 0.5, "batch_size": 4,
           "test_acc_ci95": [0.4, 0.6], "noise": 0.1}
    assert rows_table([row]).header == ["arm", "batch_size", "noise", "test_acc", "n"]


def test_a_v1_result_shows_its_answer_and_no_verdict():
    view = result_view(sample_result())
    assert view.verdict is None and view.findings == []
    assert str(view.answer) == "An answer."
    assert "<strong>Short answer.</strong>" in str(view.summary)


def test_a_v2_result_lists_the_verdicts_findings_first():
    view = result_view({**sample_result(), **V2})
    assert view.verdict == "No — at batch 4 running averages lose."
    assert [f.key for f in view.findings] == ["ewa_small", "minor"]
    top = view.findings[0]
    assert top.in_verdict and top.effect == "-0.25 [-0.35, -0.15]"
    assert str(view.answer) == "An answer."  # no repeat of the verdict: it does not open it


def test_effects_follow_the_findings_scale():
    from service.dashboard.present import effect

    assert effect({"scale": "ratio", "diff": 2.5, "diff_ci95": [2.0, 3.0]}) == "×2.5 [2, 3]"
    assert effect({"scale": "estimate", "mean_a": 0.12, "diff": None,
                   "diff_ci95": [0.1, 0.14]}) == "0.12 [0.1, 0.14]"
    assert effect({"diff": -0.1, "diff_ci95": None}) == "-0.1"  # v2 default: a difference


def test_a_v2_answer_that_opens_with_the_verdict_shows_the_rest():
    data = {**sample_result(), **V2,
            "answer": "No — at batch 4 running averages lose. By 0.25 accuracy."}
    assert str(result_view(data).answer) == "By 0.25 accuracy."
    assert result_view({**data, "verdict": None}).verdict is None


def job(job_id, data, **params):
    return SimpleNamespace(id=job_id, type="small_batch_statistics", preset="smoke",
                           code_version="v", params={"seeds": 2, **params},
                           result=SimpleNamespace(data=data))


def test_compare_shows_differing_params_metric_cells_and_findings():
    other = sample_result()
    other["rows"][0].update(test_acc=0.75, test_acc_ci95=[0.7, 0.8], n_seeds=5)
    c = compare([job(1, {**sample_result(), **V2}), job(2, other, seeds=5)])
    assert c.differing == [("seeds", ["2", "5"])]
    assert c.metric == "test_acc"
    assert c.cells[0] == ("arm batchnorm",  # batch_size is 4 in every row: not shown
                          ["0.5 [0.4, 0.6] n=2", "0.75 [0.7, 0.8] n=5"])
    labels = [label for label, _ in c.findings]
    assert labels == ["minor: x vs y (test_acc)",
                      "ewa_small: running averages vs batch norm (test_acc)"]
    assert dict(c.findings)[labels[1]] == ["-0.25 [-0.35, -0.15] n=2", ""]


def test_compare_refuses_mixed_types_and_bad_ids():
    mixed = job(2, sample_result())
    mixed.type = "gamma_beta_undo"
    with pytest.raises(CompareError, match="one type"):
        compare([job(1, sample_result()), mixed])
    for raw in ("", "1", "1,1", "a,b", ",".join(str(i) for i in range(9))):
        with pytest.raises(CompareError):
            parse_ids(raw)
    assert parse_ids(" 3, 7 ") == [3, 7]
