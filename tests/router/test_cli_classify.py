"""`bnlab classify`: the --json contract, human output, one-line errors; `bnlab bench router`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.cli import main
from service.router import THRESHOLD, bench
from service.router import params as router_params

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "forum-post.txt"
SEED_ASKS = ["gamma_beta_undo", "covariate_shift_generalization", "small_batch_statistics"]


def test_json_output_matches_the_contract(capsys):
    assert main(["classify", "--json", "--file", str(EXAMPLE)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"asks", "not_understood"} <= set(data)
    assert [a["type"] for a in data["asks"]] == SEED_ASKS
    for ask in data["asks"]:
        assert {"type", "confidence", "excerpt", "params"} <= set(ask)
        assert 0 <= ask["confidence"] <= 1
        assert isinstance(ask["excerpt"], str) and ask["excerpt"]
        assert isinstance(ask["params"], dict)
    assert data["not_understood"] == []


def test_json_lists_not_understood_excerpts_as_strings(capsys):
    assert main(["classify", "--json", "Why is batch norm so weird for my features?"]) == 0
    data = json.loads(capsys.readouterr().out)
    # A clearly-BN post that fits no type well gets its nearest type, flagged as unplaced.
    assert len(data["asks"]) == 1 and data["asks"][0]["confidence"] < THRESHOLD
    assert data["not_understood"] == ["Why is batch norm so weird for my features?"]
    assert len(data["not_understood_detail"][0]["suggestions"]) == 2


def test_human_output_lists_type_confidence_excerpt_and_params(capsys, monkeypatch):
    # As if the type were planned, so the parameter shows under its canonical name.
    monkeypatch.setattr(router_params, "schema_for", lambda type_id: None)
    assert main(["classify", "With bs=4, should BN go before or after ReLU?"]) == 0
    out = capsys.readouterr().out
    assert "activation_order" in out and "confidence" in out
    assert "should BN go before or after ReLU" in out
    assert "params:  batch_size=4" in out


def test_off_topic_text_says_nothing_was_found(capsys):
    assert main(["classify", "how do I install PyTorch"]) == 0
    assert "no question" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["classify"],
    ["classify", "text", "--file", "post.txt"],
    ["classify", "--file", "/nonexistent/post.txt"],
])
def test_bad_usage_exits_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bnlab classify: error:") and "\n" not in err


def test_refused_input_exits_2_with_one_line(tmp_path, capsys):
    binary = tmp_path / "post.bin"
    binary.write_bytes(bytes(range(256)) * 8)
    big = tmp_path / "big.txt"
    big.write_text("batch norm " * 30_000, encoding="utf-8")
    for path, reason in ((binary, "UTF-8"), (big, "limit")):
        assert main(["classify", "--file", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert reason in err and "\n" not in err


def test_bench_prints_its_figures(tmp_path, capsys):
    sample = tmp_path / "sample.jsonl"
    sample.write_text("\n".join([
        json.dumps({"text": "BN before or after ReLU?", "expected": ["activation_order"],
                    "kind": "single"}),
        json.dumps({"text": "Why drop the bias before BN? Is dropout with BN bad?",
                    "expected": ["bias_redundancy", "dropout_interaction"], "kind": "multi"}),
        json.dumps({"text": "how do I install PyTorch", "expected": [], "kind": "offtopic"}),
    ]), encoding="utf-8")
    assert bench.main(["--file", str(sample), "--repeats", "1", "--splits", ""]) == 0
    out = capsys.readouterr().out
    assert "top-1 accuracy   1.000" in out
    assert "split precision  1.000  recall 1.000" in out
    assert "rejection rate   1.000" in out
    assert "latency per post median" in out
