"""A stored result as the dashboard shows it: verdict and findings (result JSON v2) or answer
and summary (v1), and the rows as a table of mean [95% CI] cells with n.

Rows follow architecture.md: a metric `m` averaged over seeds comes with `m_ci95` [lo, hi] and
the row's `n_seeds`; the other keys identify the row (arm, sweep axes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from ..markdown import inline, to_html

CI_SUFFIX = "_ci95"
N_KEY = "n_seeds"


def number(value: Any, digits: int = 3) -> str:
    """A measured number for a table: 3 significant digits, ints as they are, blanks kept."""
    if value is None:
        return "–"
    if isinstance(value, bool) or isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.{digits}g}"
    return str(value)


def interval(ci: Any) -> str:
    if not isinstance(ci, list | tuple) or len(ci) != 2 or None in ci:
        return ""
    return f"[{number(ci[0])}, {number(ci[1])}]"


@dataclass
class Cell:
    text: str
    sort: str | float | None  # what the column sorts by: the mean, or the text
    ci: str = ""


@dataclass
class RowTable:
    identity: list[str] = field(default_factory=list)  # arm and sweep axes
    metrics: list[str] = field(default_factory=list)  # keys that come with a 95% CI
    has_n: bool = False
    rows: list[list[Cell]] = field(default_factory=list)

    @property
    def header(self) -> list[str]:
        return self.identity + self.metrics + (["n"] if self.has_n else [])


def metric_keys(rows: list[dict[str, Any]]) -> list[str]:
    """Keys that have a CI companion in some row, in order of first appearance."""
    keys: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key + CI_SUFFIX in row:
                keys[key] = None
    return list(keys)


def identity_keys(rows: list[dict[str, Any]]) -> list[str]:
    """What identifies a row: "arm" and the sweep axes, i.e. every key that is not a metric
    with a CI, a CI, or n_seeds. They are told apart by kind, not position, so a row whose keys
    come in another order (an older result stored by PostgreSQL's JSONB) reads the same."""
    metrics = set(metric_keys(rows))
    keys: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key not in metrics and not key.endswith(CI_SUFFIX) and key != N_KEY:
                keys[key] = None
    return sorted(keys, key=lambda k: k != "arm")  # arm first, the rest as they came


def varying_keys(rows: list[dict[str, Any]], keys: list[str]) -> list[str]:
    """The keys among `keys` that take more than one value across `rows`: enough to tell the
    rows apart, without constant columns (a preset's fixed step count, say)."""
    varying = [k for k in keys if len({repr(row.get(k)) for row in rows}) > 1]
    return varying or keys


def row_label(row: dict[str, Any], identity: list[str]) -> str:
    return ", ".join(f"{k} {number(row[k])}" for k in identity if k in row)


def rows_table(rows: list[dict[str, Any]]) -> RowTable:
    metrics, identity = metric_keys(rows), identity_keys(rows)
    table = RowTable(identity=identity, metrics=metrics,
                     has_n=any(N_KEY in row for row in rows))
    for row in rows:
        cells = [_cell(row.get(k)) for k in identity]
        for key in metrics:
            cell = _cell(row.get(key))
            cell.ci = interval(row.get(key + CI_SUFFIX))
            cells.append(cell)
        if table.has_n:
            cells.append(_cell(row.get(N_KEY)))
        table.rows.append(cells)
    return table


def _cell(value: Any) -> Cell:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Cell(number(value), float(value) if math.isfinite(value) else None)
    return Cell(number(value), None if value is None else str(value))


@dataclass
class Finding:
    key: str
    text: str
    metric: str
    a: str
    b: str
    mean_a: str
    mean_b: str
    effect: str  # a − b, a / b (as ×), or the one estimate, with its 95% CI
    n: str
    in_verdict: bool


def effect(item: dict[str, Any]) -> str:
    """A finding's measured effect as text, by its scale: "difference" (a − b), "ratio"
    (a / b) or "estimate" (one quantity, mean_a, against a threshold)."""
    scale = item.get("scale", "difference")
    ci = interval(item.get("diff_ci95"))
    if scale == "estimate":
        value = number(item.get("mean_a"))
    elif scale == "ratio":
        value = "×" + number(item.get("diff"))
    else:
        value = number(item.get("diff"))
    return f"{value} {ci}".strip()


def findings(data: dict[str, Any]) -> list[Finding]:
    """A v2 result's findings, those the verdict rests on first, then by importance."""
    named = set((data.get("verdict") or {}).get("findings") or [])
    out = []
    for item in data.get("findings") or []:
        if not isinstance(item, dict):
            continue
        out.append(Finding(
            key=str(item.get("key", "")), text=str(item.get("text", "")),
            metric=str(item.get("metric", "")), a=str(item.get("a", "")),
            b=str(item.get("b", "")), mean_a=number(item.get("mean_a")),
            mean_b=number(item.get("mean_b")) if item.get("b") else "",
            effect=effect(item), n=number(item.get("n")),
            in_verdict=item.get("key") in named))
    importance = {str(i.get("key")): i.get("importance") or 0 for i in data.get("findings") or []
                  if isinstance(i, dict)}
    out.sort(key=lambda f: (not f.in_verdict, -float(importance.get(f.key, 0))))
    return out


@dataclass
class ResultView:
    title: str
    verdict: str | None
    findings: list[Finding]
    answer: Markup  # with a verdict: the answer's sentences after it
    summary: Markup
    table: RowTable
    references: list[dict[str, Any]]
    provenance: dict[str, Any]
    reproduce: str | None
    key_figure: str | None  # shown first among the figures

    def ordered(self, figures: list) -> list:
        return sorted(figures, key=lambda f: f.name != self.key_figure)


def result_view(data: dict[str, Any]) -> ResultView:
    verdict = str((data.get("verdict") or {}).get("text") or "") or None
    answer = str(data.get("answer", ""))
    if verdict and answer.startswith(verdict):  # v2 answers open with the verdict
        answer = answer[len(verdict):].strip()
    return ResultView(
        title=str(data.get("title", data.get("question_type", ""))),
        verdict=verdict,
        findings=findings(data),
        # inline() and to_html() escape everything they are given (service/markdown.py).
        answer=Markup(inline(answer)),
        summary=Markup(to_html(str(data.get("summary_markdown", "")), heading_offset=2)),
        table=rows_table(list(data.get("rows") or [])),
        references=list(data.get("references") or []),
        provenance=dict(data.get("provenance") or {}),
        reproduce=data.get("reproduce"), key_figure=data.get("key_figure"))
