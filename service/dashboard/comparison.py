"""Two or more jobs of one type side by side: the params that differ, a headline metric per
row cell with its 95% CI and n, and (result JSON v2) each finding's difference with its CI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..models import Job
from .present import (
    CI_SUFFIX,
    N_KEY,
    effect,
    identity_keys,
    interval,
    metric_keys,
    number,
    row_label,
    varying_keys,
)

MAX_JOBS = 8
# Preferred headline metrics, in order, when no finding names one.
HEADLINE_METRICS = ("test_acc", "accuracy", "val_acc")


class CompareError(ValueError):
    """The ids do not name 2 to MAX_JOBS jobs of one type."""


def parse_ids(raw: str) -> list[int]:
    parts = [p.strip() for p in (raw or "").split(",") if p.strip()]
    try:
        ids = list(dict.fromkeys(int(p) for p in parts))
    except ValueError:
        raise CompareError("jobs must be job ids separated by commas, e.g. jobs=3,7") from None
    if not 2 <= len(ids) <= MAX_JOBS:
        raise CompareError(f"compare needs 2 to {MAX_JOBS} different job ids; got {len(ids)}")
    return ids


@dataclass
class Comparison:
    jobs: list[Job]
    differing: list[tuple[str, list[str]]]  # (param, value per job)
    metrics: list[str]
    metric: str | None
    cells: list[tuple[str, list[str]]] = field(default_factory=list)  # (row, text per job)
    findings: list[tuple[str, list[str]]] = field(default_factory=list)


def compare(jobs: list[Job], metric: str | None = None) -> Comparison:
    types = {job.type for job in jobs}
    if len(types) != 1:
        raise CompareError("compare jobs of one type; these are " + ", ".join(sorted(types)))
    data = [job.result.data if job.result is not None else {} for job in jobs]
    metrics = list(dict.fromkeys(m for d in data for m in metric_keys(d.get("rows") or [])))
    chosen = metric if metric in metrics else _default_metric(data, metrics)
    out = Comparison(jobs=jobs, differing=_differing(jobs), metrics=metrics, metric=chosen)
    if chosen:
        out.cells = _metric_cells(data, chosen)
    out.findings = _finding_cells(data)
    return out


def _differing(jobs: list[Job]) -> list[tuple[str, list[str]]]:
    described = [{"preset": job.preset, "code_version": job.code_version, **job.params}
                 for job in jobs]
    keys = list(dict.fromkeys(k for d in described for k in d))
    return [(k, [_show(d.get(k)) for d in described]) for k in keys
            if len({_show(d.get(k)) for d in described}) > 1]


def _show(value: Any) -> str:
    return "–" if value is None else str(value)


def _default_metric(data: list[dict], metrics: list[str]) -> str | None:
    for d in data:
        for finding in d.get("findings") or []:
            if isinstance(finding, dict) and finding.get("metric") in metrics:
                return finding["metric"]
    for name in HEADLINE_METRICS:
        if name in metrics:
            return name
    return metrics[0] if metrics else None


def _metric_cells(data: list[dict], metric: str) -> list[tuple[str, list[str]]]:
    """One line per row cell (arm and axes), in order of first appearance across the jobs."""
    every = [row for d in data for row in d.get("rows") or [] if metric in row]
    identity = varying_keys(every, identity_keys(every))
    by_label: dict[str, list[str]] = {}
    for i, d in enumerate(data):
        for row in d.get("rows") or []:
            if metric not in row:
                continue
            label = row_label(row, identity)
            texts = by_label.setdefault(label, [""] * len(data))
            n = row.get(N_KEY)
            texts[i] = " ".join(part for part in (
                number(row[metric]), interval(row.get(metric + CI_SUFFIX)),
                f"n={n}" if n is not None else "") if part)
    return list(by_label.items())


def _finding_cells(data: list[dict]) -> list[tuple[str, list[str]]]:
    by_key: dict[str, list[str]] = {}
    for i, d in enumerate(data):
        for f in d.get("findings") or []:
            if not isinstance(f, dict) or "key" not in f:
                continue
            sides = " vs ".join(str(f[k]) for k in ("a", "b") if f.get(k))
            label = f"{f['key']}: {sides} ({f.get('metric', '')})"
            texts = by_key.setdefault(label, [""] * len(data))
            n = f"n={f['n']}" if f.get("n") is not None else ""
            texts[i] = f"{effect(f)} {n}".strip()
    return list(by_key.items())
