"""Checks every question type's result must pass, whatever it measured."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from experiments import catalog

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
KEYS = {"schema", "question_type", "title", "answer", "summary_markdown", "params", "preset",
        "rows", "figures", "references", "provenance", "verdict", "findings", "reproduce",
        "key_figure"}
FINDING_KEYS = {"key", "text", "metric", "a", "b", "mean_a", "mean_b", "diff", "diff_ci95", "n",
                "direction", "scale", "importance"}
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?")
PROVENANCE = {"code_version", "torch", "device", "seeds", "dataset", "started_at",
              "duration_s"}


def check_result(out_dir: Path, type_id: str, preset: str = "smoke",
                 figures: tuple[int, int] | None = None) -> dict:
    """Load result.json from out_dir and check it against the contract; returns it.
    `figures`: the least and most figures the type promises."""
    data = json.loads((out_dir / "result.json").read_text())
    assert set(data) == KEYS
    assert data["schema"] == 2
    assert data["question_type"] == type_id
    assert data["preset"] == preset
    assert data["title"] == catalog.get(type_id).title
    check_answer(data)
    assert data["summary_markdown"].startswith("## ")
    assert data["reproduce"].startswith(f"bnlab run {type_id} --preset {preset}")
    assert data["summary_markdown"].rstrip().endswith(f"`{data['reproduce']}`")
    assert PROVENANCE <= set(data["provenance"])
    assert data["provenance"]["seeds"] == list(range(data["params"]["seeds"]))
    assert data["references"] and all(
        {"key", "title", "year", "url"} <= set(r) for r in data["references"])
    assert data["rows"], "no measured rows"
    for row in data["rows"]:
        assert "arm" in row
        check_row(row)
        assert row["n_seeds"] == data["params"]["seeds"], "every seed counts, diverged or not"
        assert 0.0 <= row["diverged"] <= 1.0
    assert data["figures"]
    if figures is not None:
        assert figures[0] <= len(data["figures"]) <= figures[1]
    assert data["key_figure"] == data["figures"][0]["name"]
    for fig in data["figures"]:
        path = out_dir / fig["file"]
        assert path.read_bytes()[:8] == PNG_MAGIC, f"{fig['file']} is not a PNG"
        assert fig["caption"] and fig["name"]
    return data


def check_answer(data: dict) -> None:
    """Verdict first, short sentences, and every number in the answer taken from a finding."""
    answer, verdict, findings = data["answer"], data["verdict"], data["findings"]
    assert findings and all(set(f) == FINDING_KEYS for f in findings)
    keys = {f["key"] for f in findings}
    assert len(keys) == len(findings), "finding keys must be unique"
    assert set(verdict["findings"]) <= keys
    assert answer in data["summary_markdown"]
    check_answer_text(answer, verdict["text"], [f["text"] for f in findings])


def check_answer_text(answer: str, verdict: str, finding_texts: list[str]) -> None:
    from experiments.writeup import ANSWER_WORDS, SENTENCE_WORDS, sentences

    assert answer.startswith(verdict)
    assert len(answer.split()) <= ANSWER_WORDS, answer
    for sentence in sentences(answer):
        assert len(sentence.split()) <= SENTENCE_WORDS, sentence
    quoted = set(NUMBER.findall(" ".join(finding_texts)))
    for number in NUMBER.findall(answer):
        assert number in quoted, f"{number} in the answer comes from no finding"


def check_row(row: dict) -> None:
    for key, value in row.items():
        if key.endswith("_ci95"):
            metric = row[key[: -len("_ci95")]]
            lo, hi = value
            if metric is not None:
                assert lo is not None and hi is not None
                assert lo - 1e-9 <= metric <= hi + 1e-9, f"{key} {value} misses {metric}"
            assert "n_seeds" in row
        if key.endswith("acc") and value is not None:
            assert 0.0 <= value <= 1.0, f"{key}={value} is not a fraction"
        if isinstance(value, float):
            assert math.isfinite(value)


def check_rejected(type_id: str, override: dict, field: str) -> None:
    """A bad parameter is refused with a ParamError naming that field."""
    import pytest

    from experiments.errors import ParamError

    with pytest.raises(ParamError) as err:
        catalog.get(type_id).resolve("smoke", override)
    assert err.value.field == field
