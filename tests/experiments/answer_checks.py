"""Checks for results written on the findings layer (schema 2): the answer is the verdict
first, short, and quotes only numbers that its findings measured."""

from __future__ import annotations

import json
import re
from pathlib import Path

from experiments import catalog
from experiments.writeup import ANSWER_WORDS, SENTENCE_WORDS, sentences, words

from .result_checks import PNG_MAGIC, PROVENANCE, check_row

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def numbers(text: str) -> set[str]:
    return {m.group(0).lstrip("-").rstrip(",") for m in NUMBER.finditer(text)}


def check_answer(answer: str, verdict: str, finding_texts: list[str]) -> None:
    assert answer.startswith(verdict)
    assert words(answer) <= ANSWER_WORDS, f"{words(answer)} words: {answer}"
    for s in sentences(answer):
        assert words(s) <= SENTENCE_WORDS, f"sentence of {words(s)} words: {s}"
    quoted = set().union(*(numbers(t) for t in finding_texts)) if finding_texts else set()
    missing = numbers(answer) - quoted
    assert not missing, f"numbers {missing} in the answer come from no finding"


def check_v2(out_dir: Path, type_id: str, preset: str = "smoke",
             figures: tuple[int, int] = (2, 4)) -> dict:
    data = json.loads((out_dir / "result.json").read_text())
    assert data["schema"] == 2
    assert data["question_type"] == type_id and data["preset"] == preset
    assert data["title"] == catalog.get(type_id).title
    assert data["summary_markdown"].startswith("## ")
    assert data["answer"] in data["summary_markdown"]
    assert PROVENANCE <= set(data["provenance"])
    assert data["provenance"]["seeds"] == list(range(data["params"]["seeds"]))
    assert data["references"] and all(
        {"key", "title", "year", "url"} <= set(r) for r in data["references"])
    keys = {f["key"] for f in data["findings"]}
    assert len(keys) == len(data["findings"]), "finding keys must be unique"
    assert data["verdict"]["findings"] and set(data["verdict"]["findings"]) <= keys
    check_answer(data["answer"], data["verdict"]["text"], [f["text"] for f in data["findings"]])
    assert data["reproduce"].startswith(f"bnlab run {type_id} --preset {preset}")
    assert data["rows"], "no measured rows"
    assert data["summary_markdown"].rstrip().endswith(f"`{data['reproduce']}`")
    for row in data["rows"]:
        assert "arm" in row
        check_row(row)
        assert row["n_seeds"] == data["params"]["seeds"], "every seed counts, diverged or not"
        assert 0.0 <= row["diverged"] <= 1.0
    lo, hi = figures
    assert lo <= len(data["figures"]) <= hi
    assert data["key_figure"] == data["figures"][0]["name"]
    for fig in data["figures"]:
        assert (out_dir / fig["file"]).read_bytes()[:8] == PNG_MAGIC
        assert fig["caption"] and fig["name"]
    return data
