"""Rows to API JSON: questions, asks, jobs (with their result, figures as URLs) and CSV rows.

The shapes are the Question, Ask, JobRef and Job schemas of schemas.py.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from flask import url_for

from ..jobs import eta_seconds
from ..models import Ask, Job, Question


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite keeps no time zone; bnlab stores UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def job_url(job_id: int) -> str:
    return url_for("api.get_job", job_id=job_id)


def question_json(question: Question, created_jobs: set[int] | None = None) -> dict[str, Any]:
    """`created_jobs`: ids of the jobs this request made; the others are marked cached."""
    return {
        "id": question.id,
        "url": url_for("api.get_question", question_id=question.id),
        "text": question.text,
        "source": question.source,
        "asker": question.asker,
        "preset": question.preset,
        "created_at": iso(question.created_at),
        "asks": [ask_json(ask, created_jobs) for ask in question.asks],
        "not_understood": list(question.not_understood or []),
    }


def ask_json(ask: Ask, created_jobs: set[int] | None = None) -> dict[str, Any]:
    job = None
    if ask.job is not None:
        job = {"id": ask.job.id, "status": ask.job.state, "progress": ask.job.progress,
               "progress_eta_s": eta_json(ask.job), "url": job_url(ask.job.id)}
        if created_jobs is not None:
            job["cached"] = ask.job.id not in created_jobs
    return {"type": ask.type, "confidence": ask.confidence, "excerpt": ask.excerpt,
            "params": dict(ask.params or {}), "job": job, "note": ask.note}


def job_json(job: Job) -> dict[str, Any]:
    succeeded = job.result is not None
    return {
        "id": job.id,
        "url": job_url(job.id),
        "type": job.type,
        "preset": job.preset,
        "params": dict(job.params),
        "key": job.key,
        "code_version": job.code_version,
        "status": job.state,
        "progress": job.progress,
        "progress_eta_s": eta_json(job),
        "message": job.message,
        "attempts": job.attempts,
        "queue": job.queue,
        "worker": job.worker,
        "device": job.device,
        "error": job.error,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "result": result_json(job) if succeeded else None,
        "data_url": url_for("api.get_job_data", job_id=job.id) if succeeded else None,
        "cancel_url": url_for("api.cancel_job", job_id=job.id),
    }


def eta_json(job: Job) -> float | None:
    eta = eta_seconds(job)
    return None if eta is None else round(eta, 1)


def result_json(job: Job) -> dict[str, Any]:
    """The stored result with each figure's file name replaced by its URL."""
    data = dict(job.result.data)
    data["figures"] = [
        {"name": f["name"], "caption": f.get("caption", ""),
         "url": url_for("api.get_job_figure", job_id=job.id, name=f["name"])}
        for f in data.get("figures", [])]
    return data


def rows_csv(rows: list[dict[str, Any]]) -> str:
    """Rows as CSV: columns in order of first appearance; a 95% CI pair [lo, hi] under
    `m_ci95` becomes two columns m_ci95_lo and m_ci95_hi."""
    flat = [_flatten(row) for row in rows]
    columns: dict[str, None] = {}
    for row in flat:
        columns.update(dict.fromkeys(row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return out.getvalue()


def _flatten(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, list | tuple) and len(value) == 2 and key.endswith("_ci95"):
            out[f"{key}_lo"], out[f"{key}_hi"] = value
        elif isinstance(value, list | tuple | dict):
            out[key] = json.dumps(value)
        else:
            out[key] = "" if value is None else value
    return out
